"""Django admin of the configuration store: providers with their models inline, models, runtime settings.

The admin classes are thin: every save, delete and action goes through
`providers.services`, so the admin validates, locks and logs exactly as the API
does. API keys are write-only: pages show `has key · …last4` (or the environment
variable that overrides it), never the key or its ciphertext.

Other apps extend `ProviderAdmin` by subclassing it and re-registering: add
action names to `actions` and buttons through `get_object_tools()`.
"""

from providers.admin.common import ObjectTool, ServiceErrorsMixin
from providers.admin.provider import ActiveFilter, ProviderAdmin, ProviderModelInline
from providers.admin.provider_model import DefaultFilter, ProviderModelAdmin
from providers.admin.runtime_setting import RuntimeSettingAdmin

__all__ = [
    "ActiveFilter",
    "DefaultFilter",
    "ObjectTool",
    "ProviderAdmin",
    "ProviderModelAdmin",
    "ProviderModelInline",
    "RuntimeSettingAdmin",
    "ServiceErrorsMixin",
]
