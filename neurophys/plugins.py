"""The plugins registered in an entry-point group (backends, NIR simulators) and whether each can
load here, so help texts list what is installed and name the extra a missing one needs.

An entry point declares the extra it needs where it is registered (pyproject:
`loihi = "neurophys.backends.loihi:LoihiBackend [loihi]"`); whether that extra is installed is
read from its distribution's metadata (are the distributions the extra requires present?). Nothing
is imported, so a help text stays fast, and no list of backends or extras is kept by hand.
"""
from __future__ import annotations

import re
from importlib.metadata import EntryPoint, PackageNotFoundError, distribution, entry_points

_EXTRA_MARKER = re.compile(r"""extra\s*==\s*["']([^"']+)["']""")
_NAME = re.compile(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def _installed(requirement: str) -> bool:
    try:
        distribution(_NAME.match(requirement).group(1))
    except PackageNotFoundError:
        return False
    return True


def missing_extras(ep: EntryPoint) -> list[str]:
    """The extras `ep` declares whose required distributions are not all installed."""
    if not ep.extras or ep.dist is None:
        return []
    needs: dict[str, list[str]] = {}
    for req in ep.dist.requires or []:
        spec, _, marker = req.partition(";")
        found = _EXTRA_MARKER.search(marker)
        if found:
            needs.setdefault(found.group(1), []).append(spec)
    return [extra for extra in ep.extras if not all(_installed(r) for r in needs.get(extra, []))]


def install_hint(ep: EntryPoint) -> str:
    """`pip install 'neurophys[loihi]'` for a plugin whose extra is missing, else ''."""
    missing = missing_extras(ep)
    return f"pip install '{ep.dist.name}[{','.join(missing)}]'" if missing else ""


def registered(group: str) -> list[EntryPoint]:
    return sorted(entry_points(group=group), key=lambda ep: ep.name)


def listing(group: str) -> str:
    """'reference, crossbar, …; not installed: brian, brian-spiking (neurophys[brian])' for a help text."""
    have, lacking = [], {}
    for ep in registered(group):
        missing = missing_extras(ep)
        if missing:
            lacking.setdefault(f"{ep.dist.name}[{','.join(missing)}]", []).append(ep.name)
        else:
            have.append(ep.name)
    text = ", ".join(have) or "none"
    if lacking:
        text += "; not installed: " + "; ".join(f"{', '.join(names)} ({extra})" for extra, names in lacking.items())
    return text
