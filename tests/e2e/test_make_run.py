"""`make run` asks as the chat page's visitor: an anonymous API Gateway event, within the read scope.

A new user tried `make run Q="What is George Franklin's phone number and address?"` and got the home
address and telephone: `make run` sent the seed's bare payload, which is a direct invoke (the operator)."""

from __future__ import annotations

import pytest

from local import run as local_run

QUESTION = "What is George Franklin's phone number and address?"


def test_make_run_asks_anonymously_and_gets_no_contact_details(capsys: pytest.CaptureFixture[str]) -> None:
    assert local_run.main([QUESTION]) == 0
    out = capsys.readouterr().out
    assert "6085551023" not in out and "110 W. Liberty St." not in out
    assert "signed-in staff only" in out  # said to be withheld, not "not found"


@pytest.mark.parametrize("caller", ["staff", "operator"])
def test_staff_and_the_operator_read_everything(capsys: pytest.CaptureFixture[str], caller: str) -> None:
    assert local_run.main(["--caller", caller, QUESTION]) == 0
    out = capsys.readouterr().out
    assert "6085551023" in out and "110 W. Liberty St." in out
