"""The real players, pinned: dash.js and hls.js package tarballs from the npm registry.

Each player is one npm package at one version whose tarball's ``sha512`` integrity (the
``dist.integrity`` the registry publishes, Subresource-Integrity form) is written here. The
tarball is downloaded once, checked against that digest (a mismatch is an error, never a
silent use), and the minified player file is extracted into the user cache
(``<cache>/emulate/players/<package>-<version>/``). Nothing is fetched from a CDN: the page
loads the player from the emulation's own server.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from ..encode.cache import default_cache_dir
from ..errors import AbrkitError, ParameterError

__all__ = ["Player", "PLAYERS", "get_player", "player_script"]

#: Seconds a tarball download may take before it is abandoned with an error.
DOWNLOAD_TIMEOUT_S = 120.0


@dataclass(frozen=True)
class Player:
    """One pinned web player.

    ``package``/``version``: the npm package; ``integrity``: its tarball's ``sha512-<base64>``;
    ``member``: the minified script inside the tarball; ``manifest``: which packaged manifest it
    plays (``dash`` or ``hls``).
    """

    name: str
    package: str
    version: str
    integrity: str
    member: str
    manifest: str

    @property
    def tarball_url(self) -> str:
        """The registry's tarball address (unscoped packages: ``/<pkg>/-/<pkg>-<version>.tgz``)."""
        return f"https://registry.npmjs.org/{self.package}/-/{self.package}-{self.version}.tgz"


#: The players abrkit drives. dash.js publishes on npm as ``dashjs``; its modern UMD bundle is
#: the one the dash.js docs load with a <script> tag. hls.js's full (not light) build is used so
#: that every feature it has by default is on.
PLAYERS: dict[str, Player] = {
    "dashjs": Player(
        name="dashjs",
        package="dashjs",
        version="5.2.1",
        integrity="sha512-axcJmLeJCTJMLUfQRErUJB1KOiU5iHF+DMLBc3FKeox1HPYtGUQlC6Xm5Mm6vhBUR3CHHLIPOqw0JDIqMtP+Dw==",
        member="package/dist/modern/umd/dash.all.min.js",
        manifest="dash",
    ),
    "hlsjs": Player(
        name="hlsjs",
        package="hls.js",
        version="1.7.4",
        integrity="sha512-3GlxGdPvT2YHvQYOt+yOzT/DEior/qJVNIylHA77kgeoBTdQQqi70GwefNEUmHQeNGyjC8U62+bruqW/Tpm+tg==",
        member="package/dist/hls.min.js",
        manifest="hls",
    ),
}


def get_player(name: str) -> Player:
    """The pinned player called ``name`` (``dashjs`` or ``hlsjs``)."""
    try:
        return PLAYERS[name]
    except KeyError:
        raise ParameterError("player", name, f"must be one of {', '.join(PLAYERS)}") from None


def _integrity_of(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode("ascii")


def _download(url: str, timeout_s: float) -> bytes:
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:
            return bytes(response.read())
    except (urllib.error.URLError, OSError) as err:
        raise AbrkitError(f"cannot download {url}: {err}") from err


def player_script(player: Player | str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """The path of ``player``'s minified script, downloading and verifying it on first use.

    Raises :class:`AbrkitError` when the download fails, the tarball's digest is not the
    pinned one, or the tarball lacks the script.
    """
    p = get_player(player) if isinstance(player, str) else player
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "emulate" / "players"
    target = root / f"{p.package}-{p.version}" / Path(p.member).name
    if target.is_file():
        return target
    data = _download(p.tarball_url, DOWNLOAD_TIMEOUT_S)
    got = _integrity_of(data)
    if got != p.integrity:
        raise AbrkitError(
            f"{p.package} {p.version}: the tarball from {p.tarball_url} has integrity {got}, not the pinned "
            f"{p.integrity}; refusing to use it"
        )
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            member = tar.extractfile(p.member)
            script = member.read() if member is not None else None
    except (tarfile.TarError, KeyError) as err:
        raise AbrkitError(f"{p.package} {p.version}: cannot read {p.member} from the tarball: {err}") from err
    if not script:
        raise AbrkitError(f"{p.package} {p.version}: {p.member} is missing or empty in the tarball")
    target.parent.mkdir(parents=True, exist_ok=True)
    # Written under a temporary name then renamed: two emulations starting at once never see a
    # half-written script.
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".part-")
    with os.fdopen(fd, "wb") as f:
        f.write(script)
    os.replace(tmp, target)
    return target
