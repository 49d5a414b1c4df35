"""Migrations, applied in order from an empty file; each version is recorded in schema_version.

Tables (version 1) and indexes (version 2) are separate migrations so the bulk demo loader can
insert into bare tables and build the indexes once, afterwards.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from crm_core.errors import SchemaError


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    description: str
    sql: str


_TABLES = """
CREATE TABLE teams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    supervisor_id INTEGER REFERENCES users(id) ON DELETE SET NULL
);
CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'agent' CHECK (role IN ('agent','supervisor','admin')),
    display_name TEXT NOT NULL DEFAULT '',
    team_id INTEGER REFERENCES teams(id) ON DELETE SET NULL,
    extension TEXT,
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0,1)),
    created_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE skills (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    skill TEXT NOT NULL,
    level INTEGER NOT NULL DEFAULT 1 CHECK (level BETWEEN 1 AND 5),
    UNIQUE (user_id, skill)
);
CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('person','company')),
    name TEXT NOT NULL,
    company_id INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    stage TEXT NOT NULL DEFAULT 'prospect'
        CHECK (stage IN ('prospect','lead','opportunity','customer','lost')),
    tier TEXT NOT NULL DEFAULT 'bronze' CHECK (tier IN ('platinum','gold','silver','bronze')),
    value_score REAL NOT NULL DEFAULT 0,
    timezone TEXT NOT NULL DEFAULT '',
    notes TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    company_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT '',
    person_id INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    created_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE phones (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    e164 TEXT NOT NULL CHECK (e164 GLOB '+[1-9]*'),
    extension TEXT NOT NULL DEFAULT '',
    label TEXT NOT NULL DEFAULT '',
    contact_id INTEGER REFERENCES contacts(id) ON DELETE CASCADE
);
CREATE TABLE emails (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    label TEXT NOT NULL DEFAULT '',
    contact_id INTEGER REFERENCES contacts(id) ON DELETE CASCADE
);
CREATE TABLE interactions (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    kind TEXT NOT NULL DEFAULT 'call' CHECK (kind IN ('call','note','email')),
    direction TEXT CHECK (direction IN ('inbound','outbound')),
    queue TEXT,
    agent_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    offered_at REAL,
    answered_at REAL,
    ended_at REAL,
    wait_s REAL,
    talk_s REAL,
    disposition TEXT,
    notes TEXT NOT NULL DEFAULT '',
    call_id TEXT UNIQUE,
    phone TEXT,
    created_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    subject TEXT NOT NULL,
    category TEXT NOT NULL DEFAULT 'general',
    priority TEXT NOT NULL DEFAULT 'normal' CHECK (priority IN ('low','normal','high','urgent')),
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open','pending','resolved','closed')),
    owner_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL DEFAULT 0,
    due_at REAL NOT NULL DEFAULT 0,
    escalated INTEGER NOT NULL DEFAULT 0 CHECK (escalated IN (0,1)),
    escalated_at REAL,
    escalation_reason TEXT
);
CREATE TABLE ticket_history (
    id INTEGER PRIMARY KEY,
    ticket_id INTEGER NOT NULL REFERENCES tickets(id) ON DELETE CASCADE,
    at REAL NOT NULL,
    user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    field TEXT NOT NULL,
    old_value TEXT,
    new_value TEXT
);
CREATE TABLE products (
    id INTEGER PRIMARY KEY,
    sku TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    department TEXT NOT NULL,
    price_cents INTEGER NOT NULL DEFAULT 0 CHECK (price_cents >= 0),
    active INTEGER NOT NULL DEFAULT 1 CHECK (active IN (0,1))
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE RESTRICT,
    department TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'paid' CHECK (status IN ('open','paid','cancelled')),
    ordered_at REAL NOT NULL DEFAULT 0,
    total_cents INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE order_lines (
    id INTEGER PRIMARY KEY,
    order_id INTEGER NOT NULL REFERENCES orders(id) ON DELETE CASCADE,
    product_id INTEGER NOT NULL REFERENCES products(id) ON DELETE RESTRICT,
    quantity INTEGER NOT NULL DEFAULT 1 CHECK (quantity > 0),
    unit_price_cents INTEGER NOT NULL DEFAULT 0 CHECK (unit_price_cents >= 0)
);
CREATE TABLE opportunities (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    stage TEXT NOT NULL DEFAULT 'qualification'
        CHECK (stage IN ('qualification','proposal','negotiation','won','lost')),
    amount_cents INTEGER NOT NULL DEFAULT 0 CHECK (amount_cents >= 0),
    probability REAL NOT NULL DEFAULT 0.1 CHECK (probability BETWEEN 0 AND 1),
    expected_close REAL NOT NULL DEFAULT 0,
    owner_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at REAL NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN ('draft','active','paused','finished')),
    dial_mode TEXT NOT NULL DEFAULT 'progressive'
        CHECK (dial_mode IN ('preview','progressive','predictive')),
    queue TEXT,
    created_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE lead_lists (
    id INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    created_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE leads (
    id INTEGER PRIMARY KEY,
    list_id INTEGER NOT NULL REFERENCES lead_lists(id) ON DELETE CASCADE,
    phone TEXT NOT NULL CHECK (phone GLOB '+[1-9]*'),
    customer_id INTEGER REFERENCES customers(id) ON DELETE SET NULL,
    name TEXT NOT NULL DEFAULT '',
    timezone TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'new'
        CHECK (status IN ('new','dialing','contacted','callback','done','dnc','failed')),
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    next_attempt REAL,
    last_result TEXT
);
CREATE TABLE dnc (
    id INTEGER PRIMARY KEY,
    phone TEXT NOT NULL UNIQUE CHECK (phone GLOB '+[1-9]*'),
    reason TEXT NOT NULL DEFAULT '',
    added_at REAL NOT NULL DEFAULT 0,
    expires_at REAL
);
CREATE TABLE callbacks (
    id INTEGER PRIMARY KEY,
    customer_id INTEGER REFERENCES customers(id) ON DELETE CASCADE,
    phone TEXT,
    due_at REAL NOT NULL,
    assigned_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    status TEXT NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending','done','cancelled','missed')),
    kind TEXT NOT NULL DEFAULT 'callback' CHECK (kind IN ('callback','task')),
    notes TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL DEFAULT 0
);
-- Scales and cut-off scores of the last full value recompute; incremental rescoring uses them.
CREATE TABLE value_state (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    computed_at REAL NOT NULL,
    customers INTEGER NOT NULL,
    revenue_max REAL NOT NULL,
    orders_max REAL NOT NULL,
    tenure_max REAL NOT NULL,
    pipeline_max REAL NOT NULL,
    platinum_min REAL NOT NULL,
    gold_min REAL NOT NULL,
    silver_min REAL NOT NULL
);
"""

_INDEXES = """
CREATE INDEX ix_phones_e164 ON phones (e164, customer_id);
CREATE INDEX ix_phones_customer ON phones (customer_id);
CREATE INDEX ix_phones_contact ON phones (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX ix_emails_customer ON emails (customer_id);
CREATE INDEX ix_emails_address ON emails (address COLLATE NOCASE);
CREATE INDEX ix_emails_contact ON emails (contact_id) WHERE contact_id IS NOT NULL;
CREATE INDEX ix_customers_name ON customers (name COLLATE NOCASE);
CREATE INDEX ix_customers_company ON customers (company_id) WHERE company_id IS NOT NULL;
CREATE INDEX ix_customers_value ON customers (value_score DESC);
CREATE INDEX ix_contacts_company ON contacts (company_id);
CREATE INDEX ix_contacts_person ON contacts (person_id) WHERE person_id IS NOT NULL;
CREATE INDEX ix_interactions_customer ON interactions (customer_id, created_at DESC);
CREATE INDEX ix_interactions_agent ON interactions (agent_user_id, created_at DESC);
CREATE INDEX ix_tickets_customer ON tickets (customer_id, status);
CREATE INDEX ix_tickets_due ON tickets (status, due_at);
CREATE INDEX ix_ticket_history_ticket ON ticket_history (ticket_id, at);
CREATE INDEX ix_orders_customer ON orders (customer_id, department, status, total_cents);
CREATE INDEX ix_orders_time ON orders (ordered_at);
CREATE INDEX ix_order_lines_order ON order_lines (order_id);
CREATE INDEX ix_order_lines_product ON order_lines (product_id);
CREATE INDEX ix_opportunities_customer ON opportunities (customer_id, stage);
CREATE INDEX ix_opportunities_close ON opportunities (expected_close);
CREATE INDEX ix_lead_lists_campaign ON lead_lists (campaign_id);
CREATE INDEX ix_leads_list ON leads (list_id, status, next_attempt);
CREATE INDEX ix_leads_phone ON leads (phone);
CREATE INDEX ix_callbacks_customer ON callbacks (customer_id, status, due_at);
CREATE INDEX ix_callbacks_due ON callbacks (status, due_at);
CREATE INDEX ix_skills_skill ON skills (skill, level);
CREATE INDEX ix_users_team ON users (team_id);
"""

# Default list orders must be index-ordered: at a million rows a sort costs ~100 ms per page.
_LIST_ORDER_INDEXES = """
DROP INDEX ix_customers_name;
CREATE INDEX ix_customers_name ON customers (name);
CREATE INDEX ix_interactions_time ON interactions (created_at);
CREATE INDEX ix_tickets_due_all ON tickets (due_at);
CREATE INDEX ix_callbacks_due_all ON callbacks (due_at);
"""

# Substring search (name, e-mail, employer) through trigram indexes instead of LIKE '%q%' over
# every row: at a million customers that is milliseconds instead of a second. External-content
# tables hold only the index; triggers keep it in step with the rows.
_SEARCH_INDEXES = """
CREATE VIRTUAL TABLE customer_name_fts USING fts5(
    name, content='customers', content_rowid='id', tokenize='trigram');
INSERT INTO customer_name_fts (customer_name_fts) VALUES ('rebuild');
CREATE TRIGGER customers_fts_insert AFTER INSERT ON customers BEGIN
    INSERT INTO customer_name_fts (rowid, name) VALUES (new.id, new.name);
END;
CREATE TRIGGER customers_fts_delete AFTER DELETE ON customers BEGIN
    INSERT INTO customer_name_fts (customer_name_fts, rowid, name)
        VALUES ('delete', old.id, old.name);
END;
CREATE TRIGGER customers_fts_update AFTER UPDATE OF name ON customers BEGIN
    INSERT INTO customer_name_fts (customer_name_fts, rowid, name)
        VALUES ('delete', old.id, old.name);
    INSERT INTO customer_name_fts (rowid, name) VALUES (new.id, new.name);
END;
CREATE VIRTUAL TABLE email_fts USING fts5(
    address, content='emails', content_rowid='id', tokenize='trigram');
INSERT INTO email_fts (email_fts) VALUES ('rebuild');
CREATE TRIGGER emails_fts_insert AFTER INSERT ON emails BEGIN
    INSERT INTO email_fts (rowid, address) VALUES (new.id, new.address);
END;
CREATE TRIGGER emails_fts_delete AFTER DELETE ON emails BEGIN
    INSERT INTO email_fts (email_fts, rowid, address) VALUES ('delete', old.id, old.address);
END;
CREATE TRIGGER emails_fts_update AFTER UPDATE OF address ON emails BEGIN
    INSERT INTO email_fts (email_fts, rowid, address) VALUES ('delete', old.id, old.address);
    INSERT INTO email_fts (rowid, address) VALUES (new.id, new.address);
END;
"""

# The IVR's per-customer facts (crm_core/selfservice.py): preferred language, hashed PIN.
_SELF_SERVICE = """
CREATE TABLE customer_selfservice (
    customer_id INTEGER PRIMARY KEY REFERENCES customers(id) ON DELETE CASCADE,
    language TEXT NOT NULL DEFAULT '',
    pin_hash TEXT NOT NULL DEFAULT ''
);
"""

# The call-center event log (issue 13): one row per agent state change or call event, appended in
# batches by acd/history_writer.py; the interval tables are kept up to date in the same
# transaction so a month of reports reads a few thousand rows, not millions. Kinds: see
# crm_core/history.py.
_CC_HISTORY = """
CREATE TABLE cc_events (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    kind TEXT NOT NULL,
    queue TEXT NOT NULL DEFAULT '',
    agent TEXT NOT NULL DEFAULT '',
    call_id TEXT NOT NULL DEFAULT '',
    number TEXT NOT NULL DEFAULT '',
    state TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL DEFAULT '',
    prev_state TEXT NOT NULL DEFAULT '',
    prev_reason TEXT NOT NULL DEFAULT '',
    wait_s REAL,
    talk_s REAL,
    handle_s REAL,
    dur_s REAL,
    detail TEXT NOT NULL DEFAULT '',
    repeated INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX cc_events_at ON cc_events (at);
CREATE INDEX cc_events_call ON cc_events (call_id) WHERE call_id != '';
CREATE INDEX cc_events_answered_number ON cc_events (number, at) WHERE kind = 'answered';
CREATE TABLE cc_queue_intervals (
    start REAL NOT NULL,
    queue TEXT NOT NULL,
    entered INTEGER NOT NULL DEFAULT 0,
    offered INTEGER NOT NULL DEFAULT 0,
    answered INTEGER NOT NULL DEFAULT 0,
    answered_sl INTEGER NOT NULL DEFAULT 0,
    abandoned INTEGER NOT NULL DEFAULT 0,
    abandoned_short INTEGER NOT NULL DEFAULT 0,
    overflowed_out INTEGER NOT NULL DEFAULT 0,
    handled INTEGER NOT NULL DEFAULT 0,
    callbacks INTEGER NOT NULL DEFAULT 0,
    rona INTEGER NOT NULL DEFAULT 0,
    transferred INTEGER NOT NULL DEFAULT 0,
    repeated INTEGER NOT NULL DEFAULT 0,
    wait_answered_s REAL NOT NULL DEFAULT 0,
    wait_abandoned_s REAL NOT NULL DEFAULT 0,
    talk_s REAL NOT NULL DEFAULT 0,
    handle_s REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (start, queue)
) WITHOUT ROWID;
CREATE TABLE cc_agent_intervals (
    start REAL NOT NULL,
    agent TEXT NOT NULL,
    offered INTEGER NOT NULL DEFAULT 0,
    answered INTEGER NOT NULL DEFAULT 0,
    missed INTEGER NOT NULL DEFAULT 0,
    handled INTEGER NOT NULL DEFAULT 0,
    transferred INTEGER NOT NULL DEFAULT 0,
    repeated INTEGER NOT NULL DEFAULT 0,
    wait_answered_s REAL NOT NULL DEFAULT 0,
    talk_s REAL NOT NULL DEFAULT 0,
    handle_s REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (start, agent)
) WITHOUT ROWID;
CREATE TABLE cc_agent_state_intervals (
    start REAL NOT NULL,
    agent TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    seconds REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (start, agent, state, reason)
) WITHOUT ROWID;
CREATE TABLE cc_queue_histograms (
    start REAL NOT NULL,
    queue TEXT NOT NULL,
    metric TEXT NOT NULL,
    bin INTEGER NOT NULL,
    n INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (start, queue, metric, bin)
) WITHOUT ROWID;
"""
# Customer search for Chinese as well as Latin names (issue 14): folded names, pinyin keys and a
# term index in rank order, kept up to date by crm_core/search_index.py (pinyin needs Python:
# triggers queue changed customers, Database.write re-indexes them before it commits). Every
# existing customer is queued here and indexed when the database is next opened. The raw-name
# trigram index is replaced by one over folded names.
_CUSTOMER_SEARCH = """
CREATE TABLE customer_search (
    customer_id INTEGER PRIMARY KEY,  -- no foreign key: the row outlives its customer until
    folded TEXT NOT NULL,             -- sync_pending has dropped the customer's terms
    pinyin TEXT NOT NULL DEFAULT '',
    tier INTEGER NOT NULL
);
CREATE TABLE customer_terms (
    term TEXT NOT NULL,
    cls INTEGER NOT NULL,
    tier INTEGER NOT NULL,
    customer_id INTEGER NOT NULL,
    py INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (term, cls, tier, customer_id)
) WITHOUT ROWID;
CREATE TABLE customer_search_pending (customer_id INTEGER PRIMARY KEY);
CREATE VIRTUAL TABLE customer_search_fts USING fts5(
    folded, content='customer_search', content_rowid='customer_id',
    tokenize='trigram case_sensitive 1');
CREATE TRIGGER customer_search_fts_insert AFTER INSERT ON customer_search BEGIN
    INSERT INTO customer_search_fts (rowid, folded) VALUES (new.customer_id, new.folded);
END;
CREATE TRIGGER customer_search_fts_delete AFTER DELETE ON customer_search BEGIN
    INSERT INTO customer_search_fts (customer_search_fts, rowid, folded)
        VALUES ('delete', old.customer_id, old.folded);
END;
CREATE TRIGGER customer_search_fts_update AFTER UPDATE OF folded ON customer_search BEGIN
    INSERT INTO customer_search_fts (customer_search_fts, rowid, folded)
        VALUES ('delete', old.customer_id, old.folded);
    INSERT INTO customer_search_fts (rowid, folded) VALUES (new.customer_id, new.folded);
END;
CREATE TRIGGER customers_search_insert AFTER INSERT ON customers BEGIN
    INSERT OR IGNORE INTO customer_search_pending (customer_id) VALUES (new.id);
END;
CREATE TRIGGER customers_search_update AFTER UPDATE OF name, kind, tier ON customers
WHEN old.name IS NOT new.name OR old.kind IS NOT new.kind OR old.tier IS NOT new.tier BEGIN
    INSERT OR IGNORE INTO customer_search_pending (customer_id) VALUES (new.id);
END;
CREATE TRIGGER customers_search_delete AFTER DELETE ON customers BEGIN
    INSERT OR IGNORE INTO customer_search_pending (customer_id) VALUES (old.id);
END;
INSERT INTO customer_search_pending (customer_id) SELECT id FROM customers;
DROP TRIGGER customers_fts_insert;
DROP TRIGGER customers_fts_delete;
DROP TRIGGER customers_fts_update;
DROP TABLE customer_name_fts;
"""


# One row per agent stretch of a call (cti.ownership.AgentSegment), keyed by the call's id like
# interactions.call_id (no foreign key: the ACD and the call log write in either order).
_CALL_SEGMENTS = """
CREATE TABLE call_segments (
    id INTEGER PRIMARY KEY,
    call_id TEXT NOT NULL,
    seq INTEGER NOT NULL CHECK (seq >= 0),
    agent_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL,
    agent TEXT NOT NULL,
    device TEXT NOT NULL,
    started_at REAL NOT NULL,
    ended_at REAL,
    talk_s REAL NOT NULL DEFAULT 0 CHECK (talk_s >= 0),
    ended_by TEXT NOT NULL DEFAULT '',
    transfer_kind TEXT CHECK (transfer_kind IN ('blind', 'attended')),
    transfer_target TEXT,
    UNIQUE (call_id, seq)
);
CREATE INDEX ix_call_segments_agent ON call_segments (agent_user_id, started_at DESC);
"""

# An extension is one user's phone: two users on one extension means calls for one ring the
# other. "" becomes NULL (no phone, one spelling). Duplicates already stored keep the extension
# on one user (active before inactive, then the oldest); the others lose it, and
# user_extension_conflicts says who lost what, so an admin can give them their own.
# Refresh tokens are rotated: every refresh spends its token (used_at) and issues the next one
# in the same family (one login); a spent token presented again revokes the whole family
# (auth_families.revoked_at), as does logout.
_EXTENSIONS_AND_SESSIONS = """
UPDATE users SET extension = NULL WHERE extension = '';
CREATE TABLE user_extension_conflicts (
    id INTEGER PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    extension TEXT NOT NULL,
    kept_by_user_id INTEGER REFERENCES users(id) ON DELETE SET NULL
);
INSERT INTO user_extension_conflicts (user_id, extension, kept_by_user_id)
    SELECT u.id, u.extension,
           (SELECT k.id FROM users k WHERE k.extension = u.extension
             ORDER BY k.active DESC, k.id LIMIT 1)
    FROM users u
    WHERE u.extension IS NOT NULL AND u.extension != ''
      AND u.id != (SELECT k.id FROM users k WHERE k.extension = u.extension
                    ORDER BY k.active DESC, k.id LIMIT 1);
UPDATE users SET extension = NULL WHERE id IN (SELECT user_id FROM user_extension_conflicts);
CREATE UNIQUE INDEX ux_users_extension ON users (extension)
    WHERE extension IS NOT NULL AND extension != '';
CREATE TABLE auth_families (
    id TEXT PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    revoked_at REAL,
    revoked_reason TEXT
);
CREATE TABLE auth_refresh_tokens (
    jti TEXT PRIMARY KEY,
    family_id TEXT NOT NULL REFERENCES auth_families(id) ON DELETE CASCADE,
    issued_at REAL NOT NULL,
    expires_at REAL NOT NULL,
    used_at REAL
);
CREATE INDEX ix_auth_families_user ON auth_families (user_id);
CREATE INDEX ix_auth_families_expiry ON auth_families (expires_at);
CREATE INDEX ix_auth_refresh_tokens_family ON auth_refresh_tokens (family_id);
"""

# Per local day and agent, the same sums as cc_agent_intervals / cc_agent_state_intervals, so a
# month of agent reports reads 200 x 30 rows instead of 200 x 2,880. Days depend on the time
# zone, so rows carry the zone they were cut in; cc_rollups says since when each zone's rows are
# complete (crm_core/history.py).
_CC_AGENT_DAYS = """
CREATE TABLE cc_agent_days (
    tz TEXT NOT NULL,
    start REAL NOT NULL,
    agent TEXT NOT NULL,
    offered INTEGER NOT NULL DEFAULT 0,
    answered INTEGER NOT NULL DEFAULT 0,
    missed INTEGER NOT NULL DEFAULT 0,
    handled INTEGER NOT NULL DEFAULT 0,
    transferred INTEGER NOT NULL DEFAULT 0,
    repeated INTEGER NOT NULL DEFAULT 0,
    wait_answered_s REAL NOT NULL DEFAULT 0,
    talk_s REAL NOT NULL DEFAULT 0,
    handle_s REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (tz, start, agent)
) WITHOUT ROWID;
CREATE TABLE cc_agent_state_days (
    tz TEXT NOT NULL,
    start REAL NOT NULL,
    agent TEXT NOT NULL,
    state TEXT NOT NULL,
    reason TEXT NOT NULL,
    seconds REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (tz, start, agent, state, reason)
) WITHOUT ROWID;
CREATE TABLE cc_rollups (
    tz TEXT PRIMARY KEY,
    since REAL NOT NULL,
    current INTEGER NOT NULL DEFAULT 0 CHECK (current IN (0,1))
);
"""

# Every dial and transfer attempt, allowed or refused (toll-fraud audit). No foreign key to users:
# the record outlives the user it names (username and team are copied in).
_DIAL_AUDIT = """
CREATE TABLE dial_audit (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    user_id INTEGER,
    username TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT '',
    team_id INTEGER,
    action TEXT NOT NULL CHECK (action IN ('dial','transfer','callback')),
    number TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    region TEXT NOT NULL DEFAULT '',
    number_type TEXT NOT NULL DEFAULT '',
    verdict TEXT NOT NULL CHECK (verdict IN ('allowed','refused')),
    reason TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    call_id TEXT NOT NULL DEFAULT ''
);
CREATE INDEX ix_dial_audit_at ON dial_audit (at);
CREATE INDEX ix_dial_audit_user ON dial_audit (user_id, at);
CREATE INDEX ix_dial_audit_team ON dial_audit (team_id, at);
"""

# The ACD's state that must outlive the process (crm_core/acd_store.py): agent logins, the
# outcomes behind today's queue statistics, and an index for the calls still being followed.
_ACD_CONTINUITY = """
CREATE TABLE acd_agent_sessions (
    agent_id TEXT PRIMARY KEY,
    device TEXT NOT NULL,
    queues TEXT NOT NULL DEFAULT '[]',
    skills TEXT NOT NULL DEFAULT '{}',
    pause_reason TEXT,
    updated_at REAL NOT NULL DEFAULT 0
);
CREATE TABLE acd_stat_outcomes (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    queue TEXT NOT NULL,
    kind TEXT NOT NULL,
    value REAL NOT NULL DEFAULT 0
);
CREATE INDEX ix_acd_stat_outcomes_at ON acd_stat_outcomes (at);
CREATE INDEX ix_interactions_open_calls ON interactions (offered_at) WHERE ended_at IS NULL;
"""

# How many customers hold each search term, kept by crm_core/search_index.py: the total of a
# one-letter or surname search is one row instead of counting 100,000 index entries.
_CUSTOMER_TERM_COUNTS = """
CREATE TABLE customer_term_counts (
    term TEXT PRIMARY KEY,
    n INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO customer_term_counts (term, n) SELECT term, COUNT(*) FROM customer_terms GROUP BY term;
"""

# The dialer (issue 12): what a campaign needs to run, and do-not-call lists per campaign
# (the global list is `dnc`).
_DIALER = """
ALTER TABLE campaigns ADD COLUMN caller_id TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN script TEXT NOT NULL DEFAULT '';
ALTER TABLE campaigns ADD COLUMN max_attempts INTEGER NOT NULL DEFAULT 5
    CHECK (max_attempts BETWEEN 1 AND 100);
ALTER TABLE campaigns ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
ALTER TABLE campaigns ADD COLUMN amd_action TEXT NOT NULL DEFAULT 'hangup'
    CHECK (amd_action IN ('hangup','message'));
CREATE TABLE campaign_dnc (
    id INTEGER PRIMARY KEY,
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    phone TEXT NOT NULL CHECK (phone GLOB '+[1-9]*'),
    reason TEXT NOT NULL DEFAULT '',
    added_at REAL NOT NULL DEFAULT 0,
    expires_at REAL,
    UNIQUE (campaign_id, phone)
);
"""

# The dialer's Originates go through the dial policy too (issue 12): the audit log accepts a
# `campaign` action. SQLite cannot change a CHECK in place, so the table is rebuilt (same rows).
_DIAL_AUDIT_CAMPAIGN = """
CREATE TABLE dial_audit_new (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    user_id INTEGER,
    username TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT '',
    team_id INTEGER,
    action TEXT NOT NULL CHECK (action IN ('dial','transfer','callback','campaign')),
    number TEXT NOT NULL,
    target TEXT NOT NULL DEFAULT '',
    kind TEXT NOT NULL,
    region TEXT NOT NULL DEFAULT '',
    number_type TEXT NOT NULL DEFAULT '',
    verdict TEXT NOT NULL CHECK (verdict IN ('allowed','refused')),
    reason TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '',
    call_id TEXT NOT NULL DEFAULT ''
);
INSERT INTO dial_audit_new SELECT id, at, user_id, username, role, team_id, action, number,
    target, kind, region, number_type, verdict, reason, message, call_id FROM dial_audit;
DROP TABLE dial_audit;
ALTER TABLE dial_audit_new RENAME TO dial_audit;
CREATE INDEX ix_dial_audit_at ON dial_audit (at);
CREATE INDEX ix_dial_audit_user ON dial_audit (user_id, at);
CREATE INDEX ix_dial_audit_team ON dial_audit (team_id, at);
"""

# The dialer's durable state (issue 12): live answers and abandons per campaign and minute, so the
# 24 h and 30 day abandon windows survive restarts (crm_core/dialer_store.py); callbacks that
# belong to a campaign (and to one of its leads) are placed by that campaign's dialer.
_DIALER_STATE = """
CREATE TABLE dialer_abandon_counts (
    campaign_id INTEGER NOT NULL REFERENCES campaigns(id) ON DELETE CASCADE,
    minute REAL NOT NULL,
    live INTEGER NOT NULL DEFAULT 0 CHECK (live >= 0),
    abandoned INTEGER NOT NULL DEFAULT 0 CHECK (abandoned >= 0 AND abandoned <= live),
    PRIMARY KEY (campaign_id, minute)
) WITHOUT ROWID;
ALTER TABLE callbacks ADD COLUMN campaign_id INTEGER REFERENCES campaigns(id) ON DELETE CASCADE;
ALTER TABLE callbacks ADD COLUMN lead_id INTEGER REFERENCES leads(id) ON DELETE SET NULL;
CREATE INDEX ix_callbacks_campaign_due ON callbacks (campaign_id, status, due_at)
    WHERE campaign_id IS NOT NULL;
"""

# Read-only wallboard kiosk tokens (agent_desktop/hub/kiosk.py): only a hash of each is kept.
_KIOSK_TOKENS = """
CREATE TABLE kiosk_tokens (
    id INTEGER PRIMARY KEY,
    token_hash TEXT NOT NULL UNIQUE,
    team_id INTEGER REFERENCES teams(id) ON DELETE CASCADE,
    label TEXT NOT NULL DEFAULT '',
    created_by INTEGER REFERENCES users(id) ON DELETE SET NULL,
    created_at REAL NOT NULL DEFAULT 0,
    revoked_at REAL
);
"""

# Reports on the IVR and the dialer (issues 11, 13): IVR outcomes per 15 minutes, menu, queue,
# exit node and outcome; dialer attempts read straight from the log through their own index.
_CC_IVR_DIALER = """
CREATE TABLE cc_ivr_intervals (
    start REAL NOT NULL,
    menu TEXT NOT NULL,
    queue TEXT NOT NULL,
    node TEXT NOT NULL,
    outcome TEXT NOT NULL,
    calls INTEGER NOT NULL DEFAULT 0,
    seconds REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (start, menu, queue, node, outcome)
) WITHOUT ROWID;
CREATE INDEX cc_events_dialer ON cc_events (at) WHERE kind = 'dialer_attempt';
"""

# Inbound figures per team (issue 13): the agent-attributed sums of the 15-minute queue rows,
# per queue AND agent (which team's agents answered; the team is looked up when a report is read,
# reports/teams.py), and their histograms. Rows logged before this migration are added once by
# the history writer when it next starts (cc_backfills: events with done < id <= upto), because the
# service-level threshold per queue lives in the configuration, not in the database.
_CC_QUEUE_AGENTS = """
CREATE TABLE cc_queue_agent_intervals (
    start REAL NOT NULL,
    queue TEXT NOT NULL,
    agent TEXT NOT NULL,
    answered INTEGER NOT NULL DEFAULT 0,
    answered_sl INTEGER NOT NULL DEFAULT 0,
    handled INTEGER NOT NULL DEFAULT 0,
    transferred INTEGER NOT NULL DEFAULT 0,
    repeated INTEGER NOT NULL DEFAULT 0,
    rona INTEGER NOT NULL DEFAULT 0,
    wait_answered_s REAL NOT NULL DEFAULT 0,
    talk_s REAL NOT NULL DEFAULT 0,
    handle_s REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (start, queue, agent)
) WITHOUT ROWID;
CREATE TABLE cc_queue_agent_histograms (
    start REAL NOT NULL,
    queue TEXT NOT NULL,
    agent TEXT NOT NULL,
    metric TEXT NOT NULL,
    bin INTEGER NOT NULL,
    n INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (start, queue, agent, metric, bin)
) WITHOUT ROWID;
CREATE TABLE cc_backfills (
    name TEXT PRIMARY KEY,
    done INTEGER NOT NULL DEFAULT 0,
    upto INTEGER NOT NULL
);
INSERT INTO cc_backfills (name, upto) SELECT 'queue_agents', MAX(id) FROM cc_events
    WHERE kind IN ('answered', 'handled', 'transferred', 'rona') HAVING COUNT(*) > 0;
"""

# The wallboard's trend of the day (crm_core/trend_store.py): one row per queue and minute, so a
# restart keeps the morning on the wallboards' chart.
_WALLBOARD_TREND = """
CREATE TABLE wallboard_trend (
    queue TEXT NOT NULL,
    t REAL NOT NULL,
    day TEXT NOT NULL,
    waiting INTEGER NOT NULL,
    service_level REAL,
    PRIMARY KEY (queue, t)
) WITHOUT ROWID;
CREATE INDEX ix_wallboard_trend_day ON wallboard_trend (day);
"""

# The dialer's abandon counts are the outbound reports' abandon figures too (issue 13): they are
# read by time range across campaigns.
_DIALER_COUNTS_BY_MINUTE = """
CREATE INDEX ix_dialer_abandon_counts_minute ON dialer_abandon_counts (minute);
"""

# The per-queue-and-agent sums (migration 19) per local day, like cc_agent_days: a month of
# figures by team reads 30 x queues x agents rows instead of 2,880 x queues x agents. Filled
# for the current zone from the 15-minute rows when the history writer next starts
# (crm_core/history.py adopt_zone_sync; cc_rollups.queue_agent_days says it was done).
_CC_QUEUE_AGENT_DAYS = """
CREATE TABLE cc_queue_agent_days (
    tz TEXT NOT NULL,
    start REAL NOT NULL,
    queue TEXT NOT NULL,
    agent TEXT NOT NULL,
    answered INTEGER NOT NULL DEFAULT 0,
    answered_sl INTEGER NOT NULL DEFAULT 0,
    handled INTEGER NOT NULL DEFAULT 0,
    transferred INTEGER NOT NULL DEFAULT 0,
    repeated INTEGER NOT NULL DEFAULT 0,
    rona INTEGER NOT NULL DEFAULT 0,
    wait_answered_s REAL NOT NULL DEFAULT 0,
    talk_s REAL NOT NULL DEFAULT 0,
    handle_s REAL NOT NULL DEFAULT 0,
    PRIMARY KEY (tz, start, queue, agent)
) WITHOUT ROWID;
ALTER TABLE cc_rollups ADD COLUMN queue_agent_days INTEGER NOT NULL DEFAULT 0;
"""

# The outbound reports sum every dialer attempt of the range (dialer_sums_sync): an index that
# holds the columns they read answers without visiting the rows of the event log (a month of
# attempts lies among ten times as many other events; `kind` is in it so that SQLite sees it
# covers the query's WHERE). It replaces migration 18's (at) index.
_CC_EVENTS_DIALER_COVERING = """
CREATE INDEX cc_events_dialer_sums ON cc_events (at, queue, reason, agent, wait_s, call_id, kind)
    WHERE kind = 'dialer_attempt';
DROP INDEX cc_events_dialer;
"""

# A campaign's own calling rules (issue 12): one row per campaign that sets any; NULL = the
# [dialer] default (crm_core/campaign_rules.py; merged in acd/dialer/rules.py). Days and
# holidays are JSON arrays; the window's two ends are set together.
_CAMPAIGN_RULES = """
CREATE TABLE campaign_rules (
    campaign_id INTEGER PRIMARY KEY REFERENCES campaigns(id) ON DELETE CASCADE,
    window_start TEXT CHECK (window_start IS NULL OR (length(window_start) = 5
        AND window_start GLOB '[0-2][0-9]:[0-5][0-9]')),
    window_end TEXT CHECK (window_end IS NULL OR (length(window_end) = 5
        AND window_end GLOB '[0-2][0-9]:[0-5][0-9]')),
    days TEXT CHECK (days IS NULL OR (json_valid(days) AND json_type(days) = 'array')),
    holidays TEXT CHECK (holidays IS NULL OR (json_valid(holidays)
        AND json_type(holidays) = 'array')),
    default_timezone TEXT CHECK (default_timezone IS NULL OR length(default_timezone) <= 64),
    retry_busy_s REAL CHECK (retry_busy_s IS NULL OR retry_busy_s BETWEEN 1e-9 AND 7776000),
    retry_no_answer_s REAL
        CHECK (retry_no_answer_s IS NULL OR retry_no_answer_s BETWEEN 1e-9 AND 7776000),
    retry_machine_s REAL
        CHECK (retry_machine_s IS NULL OR retry_machine_s BETWEEN 1e-9 AND 7776000),
    retry_abandoned_s REAL
        CHECK (retry_abandoned_s IS NULL OR retry_abandoned_s BETWEEN 1e-9 AND 7776000),
    retry_failed_s REAL
        CHECK (retry_failed_s IS NULL OR retry_failed_s BETWEEN 1e-9 AND 7776000),
    updated_at REAL NOT NULL DEFAULT 0,
    CHECK ((window_start IS NULL) = (window_end IS NULL))
);
"""

# Every write of a campaign's rules takes a new `version`, from one sequence for the table, so
# that a version names one content for good (a row deleted and written again never gets an old
# number back): the dialer compares versions each tick to see rows written by anyone (another
# process, a script, by hand), and the REST API sends it as the ETag that If-Match checks.
# Triggers, not the repository, so that no writer can forget it.
_CAMPAIGN_RULES_VERSION = """
ALTER TABLE campaign_rules ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
CREATE TABLE campaign_rules_seq (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    n INTEGER NOT NULL
);
INSERT INTO campaign_rules_seq (id, n) VALUES (1, 0);
CREATE TRIGGER campaign_rules_version_on_insert AFTER INSERT ON campaign_rules
BEGIN
    UPDATE campaign_rules_seq SET n = n + 1 WHERE id = 1;
    UPDATE campaign_rules SET version = (SELECT n FROM campaign_rules_seq WHERE id = 1)
        WHERE campaign_id = NEW.campaign_id;
END;
CREATE TRIGGER campaign_rules_version_on_update AFTER UPDATE OF campaign_id, window_start,
    window_end, days, holidays, default_timezone, retry_busy_s, retry_no_answer_s,
    retry_machine_s, retry_abandoned_s, retry_failed_s, updated_at ON campaign_rules
BEGIN
    UPDATE campaign_rules_seq SET n = n + 1 WHERE id = 1;
    UPDATE campaign_rules SET version = (SELECT n FROM campaign_rules_seq WHERE id = 1)
        WHERE campaign_id = NEW.campaign_id;
END;
UPDATE campaign_rules SET updated_at = updated_at;
"""

# Callbacks placed automatically (acd/dialer/): `reason` says why a row left 'pending' without
# reaching the customer (missed, cancelled), for the person who looks at it; `placed_call_id` is
# written before each placement's Originate, so a pending row that carries one this process did
# not place was placed by an earlier process that stopped before writing the outcome: marked
# missed ('outcome-unknown') rather than dialled again (acd/dialer/earlier_attempts.py).
_CALLBACK_PLACEMENTS = """
ALTER TABLE callbacks ADD COLUMN reason TEXT NOT NULL DEFAULT '';
ALTER TABLE callbacks ADD COLUMN placed_call_id TEXT;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "tables", _TABLES),
    Migration(2, "indexes", _INDEXES),
    Migration(3, "indexes for the default list orders", _LIST_ORDER_INDEXES),
    Migration(4, "trigram search indexes for names and e-mail addresses", _SEARCH_INDEXES),
    Migration(5, "IVR self-service: customer language and telephone PIN", _SELF_SERVICE),
    Migration(6, "call-center event log and its 15-minute aggregates", _CC_HISTORY),
    Migration(7, "call segments: each agent's part of a call, and the transfer that ended it",
              _CALL_SEGMENTS),
    Migration(8, "one user per extension; refresh-token families", _EXTENSIONS_AND_SESSIONS),
    Migration(9, "call-center agent sums per local day", _CC_AGENT_DAYS),
    Migration(10, "dial and transfer audit log", _DIAL_AUDIT),
    Migration(11, "customer search: folded names, pinyin, term index", _CUSTOMER_SEARCH),
    Migration(12, "ACD agent sessions, statistics outcomes, open calls", _ACD_CONTINUITY),
    Migration(13, "customer search: matches per term", _CUSTOMER_TERM_COUNTS),
    Migration(14, "dialer: campaign caller id, script, attempts, priority, AMD action; "
                 "per-campaign do-not-call", _DIALER),
    Migration(15, "dial audit: the dialer's campaign Originates", _DIAL_AUDIT_CAMPAIGN),
    Migration(16, "dialer: abandon counts per campaign and minute; campaign callbacks",
              _DIALER_STATE),
    Migration(17, "read-only wallboard kiosk tokens (hashed)", _KIOSK_TOKENS),
    Migration(18, "IVR outcome intervals; dialer attempts index", _CC_IVR_DIALER),
    Migration(19, "call-center queue sums per agent (inbound figures by team)", _CC_QUEUE_AGENTS),
    Migration(20, "the wallboard's trend of the day, per queue and minute", _WALLBOARD_TREND),
    Migration(21, "dialer abandon counts by minute (the outbound reports read them)",
              _DIALER_COUNTS_BY_MINUTE),
    Migration(22, "call-center queue sums per agent and local day (figures by team)",
              _CC_QUEUE_AGENT_DAYS),
    Migration(23, "dialer attempts: an index covering what the outbound reports read",
              _CC_EVENTS_DIALER_COVERING),
    Migration(24, "campaigns' own calling window, days, holidays, zone and retry delays",
              _CAMPAIGN_RULES),
    Migration(25, "campaign rules: a version per write (the dialer's refresh, the API's ETag)",
              _CAMPAIGN_RULES_VERSION),
    Migration(26, "callbacks: why one was not placed or reached; a placement recorded before "
                 "its Originate", _CALLBACK_PLACEMENTS),
)
LATEST = MIGRATIONS[-1].version


def configure(conn: sqlite3.Connection) -> None:
    """Per-connection settings; foreign_keys is off by default in SQLite and per connection."""
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.execute("PRAGMA busy_timeout = 5000")
    conn.execute("PRAGMA temp_store = MEMORY")
    conn.execute("PRAGMA cache_size = -65536")
    # Screen-pop reads are random point lookups; mapping the file saves a read() and a copy
    # per page (SQLite falls back to read() where mmap is unavailable).
    conn.execute("PRAGMA mmap_size = 1073741824")


def current_version(conn: sqlite3.Connection) -> int:
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_version ("
        " version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied_at REAL NOT NULL)"
    )
    row = conn.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def migrate(conn: sqlite3.Connection, now: float, upto: int = LATEST) -> list[int]:
    """Apply pending migrations up to `upto`, each in its own transaction; returns those applied.

    The connection must be in autocommit mode (isolation_level=None) so BEGIN/COMMIT are ours.
    """
    have = current_version(conn)
    if have > LATEST:
        raise SchemaError(
            f"database schema version {have} is newer than this code ({LATEST})",
            {"database": have, "code": LATEST},
        )
    applied: list[int] = []
    for m in MIGRATIONS:
        if m.version <= have or m.version > upto:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in _statements(m.sql):
                conn.execute(statement)
            conn.execute(
                "INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)",
                (m.version, m.description, now),
            )
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")
        applied.append(m.version)
    return applied


def _statements(sql: str) -> list[str]:
    # executescript() would COMMIT behind our back, so statements go one by one; a trigger
    # body holds ';' too, so pieces are joined until SQLite calls the statement complete.
    lines = [ln for ln in sql.splitlines() if not ln.lstrip().startswith("--")]
    out: list[str] = []
    buf = ""
    for piece in "\n".join(lines).split(";"):
        buf += piece + ";"
        if sqlite3.complete_statement(buf):
            if buf.strip(" \n;"):
                out.append(buf.strip())
            buf = ""
    if buf.strip(" \n;"):
        raise ValueError(f"incomplete SQL statement in migration: {buf[:80]!r}")
    return out
