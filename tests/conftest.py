import os

import keyring
import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from app import secrets  # noqa: E402
from app.core.models import (  # noqa: E402
    ChannelCustomer,
    ChannelOrder,
    ChannelOrderLine,
    OrderStatus,
    PaymentStatus,
)
from app.store.catalog import Catalog  # noqa: E402
from app.store.channels import ChannelRepo  # noqa: E402
from app.store.db import Database  # noqa: E402


@pytest.fixture(autouse=True)
def memory_keyring():
    """Every test gets an empty in-process keyring; the real one is never touched."""
    previous = keyring.get_keyring()
    secrets.use_memory_store()
    yield keyring.get_keyring()
    keyring.set_keyring(previous)


@pytest.fixture
def db(tmp_path):
    database = Database(tmp_path / "stockbridge.db")
    yield database
    database.close()


@pytest.fixture
def channel(db):
    catalog = Catalog(db)
    return ChannelRepo(db).add(
        "Web shop",
        "selldone",
        "http://127.0.0.1:1",
        account="1",
        warehouse_id=catalog.default_warehouse_id(),
    )


def make_order(
    ext: str, status=OrderStatus.REQUESTED, lines=(("L1", "KEG", 2),), updated=1000.0, **extra
) -> ChannelOrder:
    return ChannelOrder(
        external_id=ext,
        number=f"SM-{ext}",
        status=status,
        payment_status=PaymentStatus.PAID,
        total=10.0,
        currency="EUR",
        updated_at=updated,
        created_at=updated,
        lines=[
            ChannelOrderLine(external_id=lid, listing_id=f"P-{sku}", sku=sku, name=sku, quantity=q)
            for lid, sku, q in lines
        ],
        customer=ChannelCustomer(ref="user:1", name="Anna"),
        **extra,
    )
