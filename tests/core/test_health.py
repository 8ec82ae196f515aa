"""`/healthz`: the liveness answer a proxy checks (docs/deployment.md)."""

from django.test import Client


def test_healthz_answers_ok_without_the_database_or_a_session() -> None:
    response = Client().get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok"}
    assert "Set-Cookie" not in response.headers
    assert Client().post("/healthz").status_code == 405
