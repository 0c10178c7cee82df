"""System packages some tests need (Debian's CJK fonts, LibreOffice, antiword): `make test` installs them when it
runs as root, as CI does; elsewhere a test without them is skipped and says which package to install."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

NOTO_DIR = Path("/usr/share/fonts/opentype/noto")
# In CI a missing package is a failure, not a skip: `make test` was meant to install it.
IN_CI = bool(os.environ.get("CI"))


def _needs(present: bool, package: str) -> pytest.MarkDecorator:
    reason = f"Debian 包 {package} 未安装（make test 以 root 运行时会安装）"
    return pytest.mark.skipif(not present and not IN_CI, reason=reason)


needs_cjk_fonts = _needs((NOTO_DIR / "NotoSerifCJK-Regular.ttc").exists(), "fonts-noto-cjk")
needs_libreoffice = _needs(shutil.which("soffice") is not None, "libreoffice-writer-nogui")
needs_antiword = _needs(shutil.which("antiword") is not None, "antiword")
