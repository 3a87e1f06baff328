"""Query filters of the configuration API (django-filter): `?provider=<id or slug>`, `?enabled=`."""

from __future__ import annotations

import django_filters
from django import forms
from django.core.validators import RegexValidator
from django.db.models import Q, QuerySet

from providers.models import ProviderModel

TRUE_VALUES = frozenset({"true", "1", "yes", "on"})
FALSE_VALUES = frozenset({"false", "0", "no", "off"})


class StrictBooleanField(forms.Field):
    """true/false (also 1/0, yes/no, on/off); anything else is an error, not "no filter"."""

    def to_python(self, value: str | None) -> bool | None:
        if value in (None, ""):
            return None
        text = str(value).strip().lower()
        if text in TRUE_VALUES:
            return True
        if text in FALSE_VALUES:
            return False
        raise forms.ValidationError("Enter true or false.", code="invalid")


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = StrictBooleanField


class ProviderModelFilterSet(django_filters.FilterSet):
    provider = django_filters.CharFilter(
        method="filter_provider",
        validators=[RegexValidator(r"^(\d{1,18}|[a-z0-9][a-z0-9-]{0,49})$", "Enter a provider id or slug.")],
        help_text="Provider id or slug.",
    )
    enabled = StrictBooleanFilter(field_name="is_enabled", help_text="true or false.")

    class Meta:
        model = ProviderModel
        fields: list[str] = []

    def filter_provider(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        if value.isdigit():
            # Digits-only slugs are valid slugs too: match either.
            return queryset.filter(Q(provider_id=int(value)) | Q(provider__slug=value))
        return queryset.filter(provider__slug=value)
