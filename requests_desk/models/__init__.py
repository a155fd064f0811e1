"""Typed SQLAlchemy 2.0 models, one module per aggregate. Codes (roles, states, tiers…)
are the SPEC §1 codes, defined in requests_desk/vocabulary.py.

A module names the classes of another only in strings and annotations, which resolve
through the mapper registry, importing them under ``TYPE_CHECKING`` at most: at run time
a model module imports only ``base``, and the modules' imports (``TYPE_CHECKING`` ones
included) have no cycle. This package imports every module, so that every table is in
``Base.metadata``, and re-exports every name callers import from ``requests_desk.models``
(codes are imported from ``requests_desk.vocabulary`` itself).
"""
from __future__ import annotations

from .audit import AuditEvent, AuditHead
from .base import MAX_ID, parse_id, row_by_id
from .customers import Customer, CustomerAccount, CustomerContact, CustomerDomain
from .demands import (
    AccessGrant,
    Assignment,
    Demand,
    DemandItem,
    DemandTarget,
    Document,
    DocumentRecipient,
    DueDateChange,
    PreservationHold,
    ProductionFile,
    ReferenceCounter,
    Requester,
    awaiting_counsel_clause,
    item_as_dict,
)
from .gags import (
    Gag,
    GagEvent,
    NoticeDeferral,
    deferral_active_clause,
    gag_active_clause,
)
from .notices import Notice
from .outside import Agency, EmergencyCheck, FraudFlag, MailMessage, RequesterAccount
from .reports import (
    Report,
    ReportAccount,
    ReportAccountCount,
    ReportArtifact,
    ReportMark,
    ReportMarkCount,
)
from .rules import DataSet, ProcessRule
from .search import DemandSearchTerm
from .security import RecoveryCode, RoleProposal, SignInAttempt, UserSession
from .users import ApiToken, User, UserRole

__all__ = [
    # helpers shared by the model modules and their callers
    "MAX_ID",
    "item_as_dict",
    "parse_id",
    "row_by_id",
    # users
    "ApiToken",
    "User",
    "UserRole",
    "RecoveryCode",
    "RoleProposal",
    "SignInAttempt",
    "UserSession",
    # customers
    "Customer",
    "CustomerAccount",
    "CustomerContact",
    "CustomerDomain",
    # rule tables
    "DataSet",
    "ProcessRule",
    # demands
    "AccessGrant",
    "Assignment",
    "Demand",
    "DemandItem",
    "DemandTarget",
    "Document",
    "DocumentRecipient",
    "DueDateChange",
    "PreservationHold",
    "ProductionFile",
    "ReferenceCounter",
    "Requester",
    "awaiting_counsel_clause",
    "DemandSearchTerm",
    # gags
    "Gag",
    "GagEvent",
    "NoticeDeferral",
    "deferral_active_clause",
    "gag_active_clause",
    # notices
    "Notice",
    # requests from outside
    "Agency",
    "EmergencyCheck",
    "FraudFlag",
    "MailMessage",
    "RequesterAccount",
    # reports
    "Report",
    "ReportAccount",
    "ReportAccountCount",
    "ReportArtifact",
    "ReportMark",
    "ReportMarkCount",
    # audit
    "AuditEvent",
    "AuditHead",
]
