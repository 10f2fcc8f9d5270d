"""Template filters that only format numbers for the pages."""

import math

from django import template

from labeling.agreement import describe_agreement

register = template.Library()

DASH = "—"


@register.filter
def pct(value: float | None, digits: int = 0) -> str:
    """0.8712 -> "87%" (or "87.1%" with digits=1); None -> a dash."""
    if value is None:
        return DASH
    return f"{100 * value:.{digits}f}%"


@register.filter
def fixed(value: float | None, digits: int = 2) -> str:
    """0.61234 -> "0.61"; None -> a dash."""
    if value is None:
        return DASH
    return f"{value:.{digits}f}"


@register.filter
def bar(value: float | None) -> int:
    """A share or coefficient as a bar width in percent, clipped to 0..100."""
    if value is None:
        return 0
    return max(0, min(100, round(100 * value)))


@register.filter
def tone(value: float | None) -> str:
    """A CSS tone for an agreement coefficient: ok from 0.8, warn from 0.6, bad below."""
    if value is None:
        return "none"
    return "ok" if value >= 0.8 else "warn" if value >= 0.6 else "bad"


@register.filter
def uncertainty(n: int | None) -> str:
    """How far a score measured on `n` test items can be off: the 95% half-width, worst case.

    An accuracy on n items has a standard error of at most 0.5 / sqrt(n); macro-F1 on the
    same items is noisier still, so this is a floor on its uncertainty, not a ceiling.
    """
    if not n:
        return DASH
    return f"±{1.96 * 0.5 / math.sqrt(n):.2f}"


@register.filter
def reading(value: float | None) -> str:
    return describe_agreement(value)
