"""A text field whose database column only ever holds Fernet ciphertext."""

from __future__ import annotations

from typing import Any

from django.db import models

from providers import crypto


class EncryptedSecret(str):
    """The value of an `EncryptedTextField` as loaded: the ciphertext, never the secret.

    The plaintext is only produced by `reveal()`, at the moment an upstream client
    is built, so a secret cannot leak through `repr`, a template, a serializer,
    `dumpdata` or a log line by accident. Saving it back writes the same ciphertext.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "<EncryptedSecret>" if self else "<EncryptedSecret: empty>"

    def reveal(self) -> str:
        return crypto.decrypt(str(self))

    @property
    def is_set(self) -> bool:
        return bool(self)

    @property
    def can_decrypt(self) -> bool:
        try:
            self.reveal()
        except crypto.DecryptionError:
            return False
        return True

    @property
    def hint(self) -> str:
        """The last four characters of the secret, or "" (for `api_key_hint`)."""
        try:
            plain = self.reveal()
        except crypto.DecryptionError:
            return ""
        return plain[-4:] if len(plain) >= 8 else ""


class EncryptedTextField(models.TextField):
    """Stores secrets encrypted with MultiFernet.

    Assign plaintext (a plain `str`); it is encrypted on save. Loaded values are
    `EncryptedSecret` instances holding ciphertext.
    """

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> EncryptedSecret:
        return EncryptedSecret(value or "")

    def to_python(self, value: Any) -> Any:
        if value is None or isinstance(value, EncryptedSecret):
            return value
        if crypto.is_token(value):
            return EncryptedSecret(value)
        return value

    def get_prep_value(self, value: Any) -> str:
        if value is None or value == "":
            return ""
        if isinstance(value, EncryptedSecret) or crypto.is_token(value):
            return str(value)
        return crypto.encrypt(str(value))

    def pre_save(self, model_instance: models.Model, add: bool) -> EncryptedSecret:
        # Once saved, the instance holds the ciphertext like a loaded one: the plaintext
        # does not linger on an object that is then rendered, serialized or logged.
        secret = EncryptedSecret(self.get_prep_value(super().pre_save(model_instance, add)))
        setattr(model_instance, self.attname, secret)
        return secret

    def value_to_string(self, obj: models.Model) -> str:
        # Serialization (dumpdata) writes ciphertext, never the secret.
        return self.get_prep_value(self.value_from_object(obj))


def reveal(value: str) -> str:
    """The plaintext of a secret attribute, whether loaded (ciphertext) or freshly assigned."""
    if isinstance(value, EncryptedSecret):
        return value.reveal()
    if crypto.is_token(value):
        return crypto.decrypt(value)
    return value or ""
