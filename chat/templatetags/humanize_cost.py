"""Filters for the request log summary: percentages, milliseconds and costs, readable."""

from __future__ import annotations

from decimal import Decimal

from django import template

register = template.Library()


@register.filter
def percent(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value * 100:.1f} %"


@register.filter
def milliseconds(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value / 1000:.2f} s" if value >= 1000 else f"{value:.0f} ms"


@register.filter
def cost(value: Decimal | None) -> str:
    """Dollars: cents for sums of a cent or more, else enough digits to show the amount."""
    if value is None:
        return "–"
    return f"${value:,.2f}" if value >= Decimal("0.01") else f"${value:.6f}"
