"""DL/T 645-2007 meters in the config: ``plants[].dlt645_gateways[].meters[]``.

A settlement meter (关口表) sits on an RS485 bus that a transparent serial-to-TCP gateway puts
on the network: the gateway passes bytes both ways and knows nothing of DL/T 645, so the
serial settings (baud, framing) are the gateway's and every meter on the bus must match them.
Each meter answers to its own 12-digit address, printed on its nameplate.
"""

from __future__ import annotations

from functools import cache
from typing import Annotated, Literal

from pydantic import Field, field_validator

from config.dlt645_identifiers import Catalog, di_value, load_catalog
from config.strict import ID_PATTERN, Strict

BROADCAST = "999999999999"
Baud = Literal[1200, 2400, 4800, 9600, 19200]
Framing = Literal["8E1", "8O1", "8N1", "8N2"]
# bits on the wire per byte: start bit, 8 data bits, parity if any, stop bits
BITS_PER_BYTE: dict[str, int] = {"8E1": 11, "8O1": 11, "8N1": 10, "8N2": 11}
EntryId = Annotated[str, Field(
    pattern=ID_PATTERN, description="lowercase letters, digits, - and _; unique across the site")]


@cache
def catalog() -> Catalog:
    """The shipped identifier catalog, read once."""
    return load_catalog()


class Dlt645Meter(Strict):
    """A DL/T 645-2007 meter on a gateway's bus."""

    id: EntryId
    name: str = Field("", description="display name (Chinese is fine)")
    address: str = Field(
        pattern=r"^[0-9]{12}$",
        description="the meter's 12-digit communication address (通信地址), as on its nameplate",
    )
    export_is: Literal["reverse", "forward"] = Field(
        description="which of the meter's active energies is the plant's on-grid energy",
    )
    # a meter behind instrument transformers counts secondary-side values: energy and power
    # are multiplied by ct_ratio × pt_ratio (the statement's 倍率), currents by ct_ratio and
    # voltages by pt_ratio; leave both at 1 for a meter that counts primary values itself
    ct_ratio: float = Field(
        1.0, gt=0, le=100_000, description="current transformer ratio (400/5 A is 80)",
    )
    pt_ratio: float = Field(
        1.0, gt=0, le=10_000, description="voltage transformer ratio (10 kV/100 V is 100)",
    )
    poll_interval_s: float = Field(
        60.0, gt=0, le=86_400, description="seconds between polls (on the collector's clock)",
    )
    identifiers: list[str] | None = Field(
        None, min_length=1,
        description="data identifiers to read (DI3 DI2 DI1 DI0); default: the catalog's poll",
    )

    @field_validator("address")
    @classmethod
    def _not_broadcast(cls, address: str) -> str:
        if address == BROADCAST:
            raise ValueError("999999999999 is the broadcast address, which no meter answers")
        return address

    @field_validator("identifiers")
    @classmethod
    def _known_identifiers(cls, dis: list[str] | None) -> list[str] | None:
        if dis is None:
            return None
        known = catalog().identifiers
        for text in dis:
            if di_value(text) not in known:
                raise ValueError(f"data identifier {text} is not in "
                                 f"{catalog().source.name} (pvrelief reads what it can name)")
        return dis

    @property
    def multiplier(self) -> float:
        """Energy and power on the primary side per unit the meter counts (倍率)."""
        return self.ct_ratio * self.pt_ratio

    def poll_identifiers(self) -> tuple[int, ...]:
        """What one poll reads, in order."""
        if self.identifiers is None:
            return catalog().poll
        return tuple(di_value(t) for t in self.identifiers)


class Dlt645Gateway(Strict):
    """A transparent serial-to-TCP gateway with DL/T 645 meters on its RS485 bus.

    One request at a time goes out on the bus: a meter answers only after the whole request
    has arrived, and two answers at once would collide.
    """

    id: EntryId
    host: str = Field("127.0.0.1", description="address of the gateway")
    port: int = Field(ge=1, le=65535, description="its TCP port for the serial bus")
    baud: Baud = Field(2400, description="the bus's baud rate (2400 is the DL/T 645 default)")
    framing: Framing = Field(
        "8E1", description="data bits, parity, stop bits (8E1, even parity, is the default)",
    )
    timeout_s: float = Field(
        1.0, gt=0, le=30,
        description="the longest wait for a meter to start answering, beyond the bytes' time "
                    "on the wire (the standard allows a meter up to 0.5 s)",
    )
    pause_between_requests_s: float = Field(
        0.02, ge=0, le=10, description="quiet time on the bus between an answer and the next "
                                       "request",
    )
    preamble: int = Field(4, ge=0, le=4, description="FE bytes sent before each request")
    meters: list[Dlt645Meter] = Field(min_length=1, description="the meters on its bus")

    def byte_time_s(self) -> float:
        """Seconds one byte takes on the bus."""
        return BITS_PER_BYTE[self.framing] / self.baud

    def wire_time_s(self, n_bytes: int) -> float:
        return n_bytes * self.byte_time_s()
