"""The EU battery passport: Annex XIII model, access tiers, lifecycle, identifier and QR code,
exports and imports (Catena-X, AAS, Battery Pass), signed versions with a backup node.

Other packages import only from here; ``node/`` also mounts ``batpass.passport.routes``.
"""

from pathlib import Path

from batpass.passport._backups import BACKUP_KIND, BackupCopyRefused, HeldCopy
from batpass.passport._export_aas import to_aas_json
from batpass.passport._export_batterypass import to_batterypass
from batpass.passport._export_catenax import to_catenax
from batpass.passport._figures import FOOTPRINT_STAGES, footprint_per_capacity, hazard_marks
from batpass.passport._import import FORMATS as IMPORT_FORMATS
from batpass.passport._import import ImportedPassport
from batpass.passport._importers import read_import
from batpass.passport._listing import PassportFilter, count_passports, find_passport_ids, passport_models
from batpass.passport._qr import qr_svg
from batpass.passport.errors import (
    LifecycleViolation,
    MissingMandatoryField,
    NotResponsible,
    PassportNotFound,
    UnitMismatch,
    WrongCategory,
)
from batpass.passport.model import (
    ALL_TIERS,
    FIELDS,
    FIELDS_BY_KEY,
    ROLE_TIERS,
    Category,
    FieldSpec,
    FieldState,
    Kind,
    Level,
    Mandate,
    Passport,
    PassportRules,
    Quantity,
    Status,
    Tier,
    field_state,
    tiers_for_roles,
    visible_view,
)
from batpass.passport.ports import (
    BatteryResolver,
    CallerVerifier,
    Clock,
    PageRenderer,
    PublicKeyResolver,
    RecycledContentSource,
    RoleVerifier,
    SystemClock,
    UpstreamSummarySource,
)
from batpass.passport.service import PassportService, StaticProductData, load_static_product_data

MIGRATIONS_DIR = Path(__file__).parent / "_migrations"

__all__ = [
    "ALL_TIERS",
    "BACKUP_KIND",
    "FIELDS",
    "FIELDS_BY_KEY",
    "FOOTPRINT_STAGES",
    "IMPORT_FORMATS",
    "MIGRATIONS_DIR",
    "ROLE_TIERS",
    "BackupCopyRefused",
    "BatteryResolver",
    "CallerVerifier",
    "Category",
    "Clock",
    "FieldSpec",
    "FieldState",
    "HeldCopy",
    "ImportedPassport",
    "Kind",
    "Level",
    "LifecycleViolation",
    "Mandate",
    "MissingMandatoryField",
    "NotResponsible",
    "PageRenderer",
    "Passport",
    "PassportFilter",
    "PassportNotFound",
    "PassportRules",
    "PassportService",
    "PublicKeyResolver",
    "Quantity",
    "RecycledContentSource",
    "RoleVerifier",
    "StaticProductData",
    "Status",
    "SystemClock",
    "Tier",
    "UnitMismatch",
    "UpstreamSummarySource",
    "WrongCategory",
    "count_passports",
    "field_state",
    "find_passport_ids",
    "footprint_per_capacity",
    "hazard_marks",
    "load_static_product_data",
    "passport_models",
    "qr_svg",
    "read_import",
    "tiers_for_roles",
    "to_aas_json",
    "to_batterypass",
    "to_catenax",
    "visible_view",
]
