"""What a test needs before it can run: in CI a missing prerequisite fails, elsewhere it skips."""

import os

import pytest

IN_CI = os.environ.get("CI") == "true"


def require(condition, reason):
    """Skips outside CI; in CI a missing prerequisite is a failure, never a green skip."""
    if condition:
        return
    if IN_CI:
        pytest.fail("prerequisite missing in CI: " + reason)
    pytest.skip(reason)
