"""SQL statements of the workflow engine (PostgreSQL; psycopg named parameters)."""

# One round trip on the happy path. ``cand`` holds the transitions this actor owns for this
# event (across workflows); the UPDATE fires only when one of them leaves the instance's current
# state and the idempotency key is new. Otherwise nothing is written and Python explains why from
# the ``cur`` and ``prior`` rows. The UPDATE re-checks state and version on the locked row, so a
# concurrent winner makes it match nothing (READ COMMITTED re-evaluation).
APPLY = """
WITH cand (workflow_id, from_state, to_state) AS (
    SELECT * FROM unnest(%(c_wf)s::text[], %(c_from)s::text[], %(c_to)s::text[])
),
cur AS (
    SELECT id, workflow_id, state, version FROM workflow_instances WHERE id = %(id)s
),
prior AS (
    SELECT id, instance_id, event, actor, from_state, to_state, version, request_id, created_at
      FROM workflow_audit WHERE idempotency_key = %(key)s
),
upd AS (
    UPDATE workflow_instances w
       SET state = cand.to_state, version = w.version + 1, updated_at = now()
      FROM cur, cand
     WHERE w.id = cur.id
       AND cand.workflow_id = cur.workflow_id AND cand.from_state = cur.state
       AND w.state = cur.state AND w.version = cur.version
       AND (%(expected)s::int IS NULL OR w.version = %(expected)s::int)
       AND NOT EXISTS (SELECT 1 FROM prior)
    RETURNING w.id, w.version, w.updated_at, cur.state AS from_state, w.state AS to_state
),
ins AS (
    INSERT INTO workflow_audit (instance_id, version, event, actor, from_state, to_state,
                                payload, request_id, idempotency_key, created_at)
    SELECT id, version, %(event)s, %(actor)s, from_state, to_state, %(payload)s,
           %(request_id)s, %(key)s, updated_at
      FROM upd
    RETURNING id, version, to_state, created_at
)
SELECT cur.workflow_id, cur.state, cur.version,
       ins.id AS w_id, ins.version AS w_version, ins.to_state AS w_to, ins.created_at AS w_at,
       p.id AS p_id, p.instance_id AS p_instance, p.event AS p_event, p.actor AS p_actor,
       p.from_state AS p_from, p.to_state AS p_to, p.version AS p_version,
       p.request_id AS p_request_id, p.created_at AS p_at
  FROM cur LEFT JOIN ins ON true LEFT JOIN prior p ON true
"""

WRITE_START = """
WITH ins AS (
    INSERT INTO workflow_instances (workflow_id, state, subject_type, subject_id, data)
    VALUES (%(workflow_id)s, %(state)s, %(subject_type)s, %(subject_id)s, %(data)s)
    RETURNING id, created_at
)
INSERT INTO workflow_audit (instance_id, version, event, actor, from_state, to_state, payload,
                            request_id, idempotency_key, created_at)
SELECT id, 0, 'start', %(actor)s, NULL, %(state)s, %(data)s, %(request_id)s, %(key)s, created_at
  FROM ins
RETURNING instance_id
"""

INSTANCE_COLUMNS = (
    "id, workflow_id, state, version, subject_type, subject_id, data, created_at, updated_at"
)
