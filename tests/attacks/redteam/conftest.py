from tests.attacks.harness import attack  # noqa: F401 - the shared fixture
