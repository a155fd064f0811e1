"""Customers: their domains, explicitly mapped accounts and notice contacts."""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..db import Base, UTCDateTime, utcnow


class Customer(Base):
    __tablename__ = "customers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    enterprise: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    domains: Mapped[list[CustomerDomain]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerDomain.domain"
    )
    accounts: Mapped[list[CustomerAccount]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerAccount.identifier"
    )
    contacts: Mapped[list[CustomerContact]] = relationship(
        back_populates="customer", cascade="all, delete-orphan", order_by="CustomerContact.id"
    )


class CustomerDomain(Base):
    __tablename__ = "customer_domains"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)

    customer: Mapped[Customer] = relationship(back_populates="domains")


class CustomerAccount(Base):
    """Explicit mapping of an account identifier to a customer; wins over the domain."""

    __tablename__ = "customer_accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    identifier: Mapped[str] = mapped_column(String(320), unique=True)

    customer: Mapped[Customer] = relationship(back_populates="accounts")


class CustomerContact(Base):
    __tablename__ = "customer_contacts"

    id: Mapped[int] = mapped_column(primary_key=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))

    customer: Mapped[Customer] = relationship(back_populates="contacts")
