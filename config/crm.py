"""[crm]: the embedded CRM store and how customer value is scored."""

from __future__ import annotations

from pydantic import Field, model_validator

from config.base import Section


class ValueWeights(Section):
    """Weights of the customer-value score's components (each component is normalised to 0..1)."""

    revenue_12m: float = Field(default=0.55, ge=0)
    frequency_12m: float = Field(default=0.20, ge=0)
    tenure: float = Field(default=0.10, ge=0)
    open_pipeline: float = Field(default=0.15, ge=0)


class TierCutoffs(Section):
    """Fractions of customers (ranked by value) in each tier, from the top."""

    platinum: float = Field(default=0.05, gt=0, lt=1)
    gold: float = Field(default=0.15, gt=0, lt=1)
    silver: float = Field(default=0.30, gt=0, lt=1)

    @model_validator(mode="after")
    def _fits(self) -> TierCutoffs:
        if self.platinum + self.gold + self.silver > 1.0:
            raise ValueError("platinum + gold + silver must not exceed 1 (the rest is bronze)")
        return self


class CrmSettings(Section):
    database: str = "crm.sqlite3"  # relative to [server].data_dir
    default_region: str = "US"
    value_weights: ValueWeights = ValueWeights()
    tiers: TierCutoffs = TierCutoffs()
    # Ticket SLA hours by customer tier; a ticket past due (or a customer with this many open
    # complaints) is escalated.
    sla_hours: dict[str, int] = Field(
        default_factory=lambda: {"platinum": 4, "gold": 8, "silver": 24, "bronze": 48}
    )
    escalate_after_complaints: int = Field(default=3, ge=1)
    # Run the CRM's point reads (screen-pop, caller-ID lookup, tier, a row by id) on the
    # event-loop thread over their own connection instead of aiosqlite's worker thread. They
    # cost ~50-150 us of CPU; a thread hop costs two wake-ups, and on a loaded 2-core box its
    # p99 is milliseconds (benchmarks/crm_lookup.py measures both). The price: a read that
    # misses the OS page cache blocks the loop for the disk read. WAL readers never wait for
    # locks. Searches and writes always run on worker threads.
    inline_reads: bool = True

    @model_validator(mode="after")
    def _sla_for_every_tier(self) -> CrmSettings:
        missing = {"platinum", "gold", "silver", "bronze"} - set(self.sla_hours)
        if missing:
            raise ValueError(f"sla_hours needs an entry for {', '.join(sorted(missing))}")
        bad = [k for k, v in self.sla_hours.items() if v <= 0]
        if bad:
            raise ValueError(f"sla_hours must be positive (not for {', '.join(sorted(bad))})")
        return self
