"""`manage.py create_api_key` (access/management/commands/create_api_key.py)."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from access.models import ApiKey
from access.selectors import find_key
from tests.factories import make_user

pytestmark = pytest.mark.django_db


def run(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_api_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_prints_only_the_key_on_stdout():
    make_user("admin")
    out, err = run("ci", "--user", "admin", "--scopes", "read,chat")
    raw = out.strip()
    assert out.count("\n") == 1
    info = find_key(raw)
    assert info is not None and info.scopes == {"read", "chat"}
    assert raw not in err and "shown only once" in err
    key = ApiKey.objects.get()
    assert key.expires_at is None and key.name == "ci"


def test_expires_in_days():
    make_user("admin")
    run("temp", "--user", "admin", "--scopes", "admin", "--expires", "30")
    expires_at = ApiKey.objects.get().expires_at
    assert timedelta(days=29, hours=23) < expires_at - timezone.now() <= timedelta(days=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["x", "--user", "nobody", "--scopes", "read"], "Unknown user: nobody"),
        (["x", "--user", "admin", "--scopes", "read,write"], "unknown scope(s): write"),
        (["x", "--user", "admin", "--scopes", ","], "at least one scope"),
        (["x", "--user", "admin", "--scopes", "read", "--expires", "0"], "--expires"),
        (["", "--user", "admin", "--scopes", "read"], "name"),
    ],
)
def test_errors_are_one_clear_line_and_write_nothing(args, message):
    make_user("admin")
    with pytest.raises(CommandError) as info:
        run(*args)
    assert message in str(info.value)
    assert not ApiKey.objects.exists()
