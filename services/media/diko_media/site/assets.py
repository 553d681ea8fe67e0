"""The site's own files: the brand's stylesheet, fonts and logo, and the site's stylesheet,
copied into every build so that the site loads nothing from another host and works from
any web server."""

from __future__ import annotations

from functools import cache
from importlib.resources import files as package_files

from diko_shared.brand import web as brand


@cache
def files() -> dict[str, bytes]:
    found = {f"assets/{name}": asset.body for name, asset in brand.assets().items()}
    found["assets/site.css"] = (
        package_files("diko_media.site").joinpath("templates/site.css").read_bytes()
    )
    return found
