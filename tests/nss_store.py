"""A certificate store chromium reads, with a CA of the test's trusted in it: NSS's database in
HOME/.pki/nssdb, where chromium on Linux looks for certificates a user or an administrator added
(what `certutil` or a managed device's policy puts there). Made with libnss3-tools' `certutil`,
inside the test's directory, so no pin or ignore flag is needed and nothing outside is touched.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


def certutil_available() -> bool:
    return shutil.which("certutil") is not None


def nss_home(home: Path, *trusted_cas: Path) -> Path:
    """`home` with an NSS database trusting each of `trusted_cas` to identify TLS servers
    (trust "C,,"); none: an empty store. Returns `home`, to run chromium with as HOME."""
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True, exist_ok=True)
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"],  # noqa: S603,S607
                   check=True, capture_output=True)
    for i, ca in enumerate(trusted_cas):
        subprocess.run(["certutil", "-A", "-d", f"sql:{db}", "-n", f"test CA {i}",  # noqa: S603,S607
                        "-t", "C,,", "-i", str(ca)], check=True, capture_output=True)
    return home
