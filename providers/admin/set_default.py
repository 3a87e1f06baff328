"""A "Set as default" button on a model's admin page: the `set_as_default` action, for one model.

`SetDefaultButtonMixin` goes before `ProviderModelAdmin`'s other bases. The button
POSTs (CSRF-protected by `admin_view`) to `<model>/set-default/`, which checks the
change permission on that model and runs the changelist action on it, so the
button and the action answer with the same messages.
"""

from __future__ import annotations

from typing import Any

from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import URLPattern, path, reverse

from providers.admin.common import ObjectTool
from providers.models import ProviderModel


class SetDefaultButtonMixin:
    """Adds the button and its POST view to the admin of `ProviderModel` (which has `set_as_default`)."""

    change_form_template = "admin/providers/providermodel/change_form.html"

    def _url_name(self, view: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{view}"

    def get_urls(self) -> list[URLPattern]:
        view = self.admin_site.admin_view(self.set_default_view)
        own = [path("<path:object_id>/set-default/", view, name=self._url_name("set_default"))]
        return own + super().get_urls()

    def set_default_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        model = self.get_object(request, unquote(object_id))
        if model is None:
            raise Http404(f"No model with id {object_id!r}.")
        if not self.has_change_permission(request, model):
            raise PermissionDenied
        self.set_as_default(request, ProviderModel.objects.filter(pk=model.pk))
        return HttpResponseRedirect(reverse(f"admin:{self._url_name('change')}", args=[model.pk]))

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: ProviderModel | None = None,
    ) -> HttpResponse:
        tools = []
        if obj is not None and obj.pk and not obj.is_default and self.has_change_permission(request, obj):
            url = reverse(f"admin:{self._url_name('set_default')}", args=[obj.pk])
            tools.append(ObjectTool("Set as default", url))
        context["post_tools"] = tools
        return super().render_change_form(request, context, add=add, change=change, form_url=form_url, obj=obj)
