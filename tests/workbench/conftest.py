import pytest

from . import signed_in


@pytest.fixture
def technician_client(technician):
    return signed_in(technician)
