"""The statements a Prefect 3.9.1 server sends to PostgreSQL, as it sends them.

Every text below was taken from a real server's statement log (log_statement = all,
`prefect server start` against PostgreSQL 15, one flow of short tasks, then the
UI's common reads through the REST API); see docs/light-touch.md, "Where the
statements come from", and benchmarks/load/captured_statements.sql for the raw,
de-duplicated capture. The server sends them through asyncpg as prepared
statements with $n parameters, so the load generator PREPAREs the same texts and
EXECUTEs them. Only the multi-row VALUES lists (events, logs) are generated, for a
given number of rows, exactly as SQLAlchemy writes them.
"""

FLOW_RUN_COLUMNS = (
    'flow_run.flow_id, flow_run.deployment_id, flow_run.work_queue_name, flow_run.flow_version, '
    'flow_run.deployment_version, flow_run.parameters, flow_run.idempotency_key, flow_run.context, '
    'flow_run.empirical_policy, flow_run.tags, flow_run.labels, flow_run.created_by, flow_run.infrastructure_pid, '
    'flow_run.job_variables, flow_run.infrastructure_document_id, flow_run.parent_task_run_id, '
    'flow_run.auto_scheduled, flow_run.state_id, flow_run.work_queue_id, flow_run.name, flow_run.state_type, '
    'flow_run.state_name, flow_run.state_timestamp, flow_run.run_count, flow_run.expected_start_time, '
    'flow_run.next_scheduled_start_time, flow_run.start_time, flow_run.end_time, flow_run.total_run_time, '
    'flow_run.id, flow_run.created, flow_run.updated')

FLOW_RUN_STATE_COLUMNS = (
    'flow_run_state.id, flow_run_state.flow_run_id, flow_run_state.type, flow_run_state.timestamp, '
    'flow_run_state.name, flow_run_state.message, flow_run_state.state_details, flow_run_state.data, '
    'flow_run_state.result_artifact_id, flow_run_state.created, flow_run_state.updated')

TS = 'TIMESTAMP WITH TIME ZONE'

# name -> (statement kind reported, SQL with $n parameters). One entry per prepared statement.
STATEMENTS = {
    # POST /flows/ (the client registers its flow before each run)
    'insert_flow': ('insert_flow',
                    'INSERT INTO flow (name, tags, labels, id, created, updated) VALUES ($1::VARCHAR, $2::JSONB, '
                    '$3::JSONB, $4::UUID, $5::' + TS + ', $6::' + TS + ') ON CONFLICT (name) DO NOTHING'),
    'select_flow_by_name': ('select_flow',
                            'SELECT flow.name, flow.tags, flow.labels, flow.id, flow.created, flow.updated \n'
                            'FROM flow \nWHERE flow.name = $1::VARCHAR \n LIMIT $2::INTEGER'),
    # POST /flow_runs/ (models.flow_runs.create_flow_run, then set_flow_run_state to PENDING)
    'select_flow_labels': ('select_flow', 'SELECT flow.labels \nFROM flow \nWHERE flow.id = $1::UUID'),
    'insert_flow_run': ('insert_flow_run',
                        'INSERT INTO flow_run (flow_id, deployment_id, work_queue_name, flow_version, '
                        'deployment_version, parameters, idempotency_key, context, empirical_policy, tags, labels, '
                        'created_by, infrastructure_pid, job_variables, infrastructure_document_id, '
                        'parent_task_run_id, auto_scheduled, state_id, work_queue_id, name, state_type, state_name, '
                        'state_timestamp, run_count, expected_start_time, next_scheduled_start_time, start_time, '
                        'end_time, total_run_time, id, created, updated) VALUES ($1::UUID, $2::UUID, $3::VARCHAR, '
                        '$4::VARCHAR, $5::VARCHAR, $6::JSONB, $7::VARCHAR, $8::JSONB, $9, $10::JSONB, $11::JSONB, '
                        '$12, $13::VARCHAR, $14::JSONB, $15::UUID, $16::UUID, $17::BOOLEAN, $18::UUID, $19::UUID, '
                        '$20::VARCHAR, $21::state_type, $22::VARCHAR, $23::' + TS + ', $24::INTEGER, $25::' + TS +
                        ', $26::' + TS + ', $27::' + TS + ', $28::' + TS + ', $29::INTERVAL, $30::UUID, $31::' + TS +
                        ', $32::' + TS + ')'),
    # POST /flow_runs/{id}/set_state: the orchestration locks the run, then writes the state
    'lock_flow_run': ('lock_flow_run', 'SELECT ' + FLOW_RUN_COLUMNS + ' \nFROM flow_run \n'
                                       'WHERE flow_run.id = $1::UUID FOR UPDATE'),
    'select_flow_run_state_by_id': ('select_flow_run_state', 'SELECT ' + FLOW_RUN_STATE_COLUMNS +
                                    ' \nFROM flow_run_state \nWHERE flow_run_state.id IN ($1::UUID)'),
    'select_state_timestamp': ('select_flow_run_state',
                               'SELECT flow_run_state.timestamp \nFROM flow_run_state \n'
                               'WHERE flow_run_state.flow_run_id = $1::UUID AND flow_run_state.timestamp = $2::' + TS +
                               ' \n LIMIT $3::INTEGER'),
    'insert_flow_run_state': ('insert_flow_run_state',
                              'INSERT INTO flow_run_state (flow_run_id, type, timestamp, name, message, state_details, '
                              'data, result_artifact_id, id, created, updated) VALUES ($1::UUID, $2::state_type, $3::' +
                              TS + ', $4::VARCHAR, $5::VARCHAR, $6, $7::JSONB, $8::UUID, $9::UUID, $10::' + TS +
                              ', $11::' + TS + ')'),
    'update_flow_run_pending': ('update_flow_run',
                                'UPDATE flow_run SET state_id=$1::UUID, state_type=$2::state_type, '
                                'state_name=$3::VARCHAR, state_timestamp=$4::' + TS + ', expected_start_time=$5::' +
                                TS + ', updated=now() WHERE flow_run.id = $6::UUID RETURNING flow_run.updated'),
    'update_flow_run_running': ('update_flow_run',
                                'UPDATE flow_run SET state_id=$1::UUID, state_type=$2::state_type, '
                                'state_name=$3::VARCHAR, state_timestamp=$4::' + TS + ', run_count=$5::INTEGER, '
                                'start_time=$6::' + TS + ', updated=now() WHERE flow_run.id = $7::UUID '
                                'RETURNING flow_run.updated'),
    'update_flow_run_final': ('update_flow_run',
                              'UPDATE flow_run SET state_id=$1::UUID, state_type=$2::state_type, '
                              'state_name=$3::VARCHAR, state_timestamp=$4::' + TS + ', end_time=$5::' + TS +
                              ', total_run_time=$6::INTERVAL, updated=now() WHERE flow_run.id = $7::UUID '
                              'RETURNING flow_run.updated'),
    'select_flow_by_id': ('select_flow', 'SELECT flow.name, flow.tags, flow.labels, flow.id, flow.created, '
                                         'flow.updated \nFROM flow \nWHERE flow.id = $1::UUID'),
    # GET /flow_runs/{id}
    'read_flow_run': ('read_flow_run', 'SELECT ' + FLOW_RUN_COLUMNS + ' \nFROM flow_run \nWHERE flow_run.id = $1::UUID'),
    # the task run recorder service (task run states arrive as events)
    'select_task_run_by_id_or_key': ('select_task_run',
                                     'SELECT task_run.id, task_run.flow_run_id, task_run.task_key, task_run.dynamic_key'
                                     ' \nFROM task_run \nWHERE task_run.id IN ($1::UUID) OR (task_run.flow_run_id, '
                                     'task_run.task_key, task_run.dynamic_key) IN (($2, $3, $4))'),
    'upsert_task_run': ('upsert_task_run',
                        'INSERT INTO task_run (flow_run_id, task_key, dynamic_key, flow_run_run_count, '
                        'empirical_policy, task_inputs, tags, labels, state_id, name, state_type, state_name, '
                        'state_timestamp, run_count, expected_start_time, start_time, end_time, total_run_time, id, '
                        'created, updated) VALUES ($1::UUID, $2::VARCHAR, $3::VARCHAR, $4::INTEGER, $5, $6, '
                        '$7::JSONB, $8::JSONB, $9::UUID, $10::VARCHAR, $11::state_type, $12::VARCHAR, $13::' + TS +
                        ', $14::INTEGER, $15::' + TS + ', $16::' + TS + ', $17::' + TS + ', $18::INTERVAL, $19::UUID, '
                        '$20::' + TS + ', $21::' + TS + ') ON CONFLICT (flow_run_id, task_key, dynamic_key) DO UPDATE '
                        'SET flow_run_id = excluded.flow_run_id, task_key = excluded.task_key, dynamic_key = '
                        'excluded.dynamic_key, flow_run_run_count = excluded.flow_run_run_count, empirical_policy = '
                        'excluded.empirical_policy, task_inputs = excluded.task_inputs, tags = excluded.tags, labels = '
                        'excluded.labels, state_id = excluded.state_id, name = excluded.name, state_type = '
                        'excluded.state_type, state_name = excluded.state_name, state_timestamp = '
                        'excluded.state_timestamp, run_count = excluded.run_count, expected_start_time = '
                        'excluded.expected_start_time, start_time = excluded.start_time, end_time = excluded.end_time, '
                        'total_run_time = excluded.total_run_time, updated = excluded.updated '
                        'WHERE task_run.state_timestamp < excluded.state_timestamp'),
    'select_task_run_by_key': ('select_task_run',
                               'SELECT task_run.flow_run_id, task_run.task_key, task_run.dynamic_key, task_run.id \n'
                               'FROM task_run \nWHERE (task_run.flow_run_id, task_run.task_key, task_run.dynamic_key) '
                               'IN (($1, $2, $3))'),
    'insert_task_run_state': ('insert_task_run_state',
                              'INSERT INTO task_run_state (task_run_id, type, timestamp, name, message, state_details, '
                              'data, id, created, updated) VALUES ($1::UUID, $2::state_type, $3::' + TS + ', '
                              '$4::VARCHAR, $5::VARCHAR, $6, $7::JSONB, $8::UUID, $9::' + TS + ', $10::' + TS + ') '
                              'ON CONFLICT (id) DO NOTHING'),
    # the event persister service: one multi-row INSERT, then executemany of the resources
    'insert_event_resource': ('insert_event_resources',
                              'INSERT INTO event_resources (occurred, resource_id, resource_role, resource, event_id, '
                              'id, created, updated) VALUES ($1::' + TS + ', $2::VARCHAR, $3::VARCHAR, $4::JSON, '
                              '$5::UUID, $6::UUID, $7::' + TS + ', $8::' + TS + ')'),
    # POST /flow_runs/filter {state: {type: {any_: [...]}}, sort: START_TIME_DESC, limit: 50}
    'read_flow_runs_by_state': ('read_flow_runs_by_state',
                                'SELECT ' + FLOW_RUN_COLUMNS + ' \nFROM flow_run \nWHERE flow_run.state_type IN '
                                '($3::state_type, $4::state_type) ORDER BY coalesce(flow_run.start_time, '
                                'flow_run.expected_start_time) DESC \n LIMIT $1::INTEGER OFFSET $2::INTEGER'),
    # POST /logs/filter {logs: {flow_run_id: {any_: [id]}}, sort: TIMESTAMP_ASC, limit: 200}
    'read_logs_of_run': ('read_logs_of_run',
                         'SELECT log.name, log.level, log.flow_run_id, log.task_run_id, log.message, log.timestamp, '
                         'log.id, log.created, log.updated \nFROM log \nWHERE log.flow_run_id IN ($3::UUID) '
                         'ORDER BY log.timestamp ASC \n LIMIT $1::INTEGER OFFSET $2::INTEGER'),
    # POST /events/filter {filter: {occurred: {since, until}, order: DESC}, limit: 50}: a count, then a page
    'count_events_range': ('count_events_range',
                           'SELECT count(*) AS count_1 \nFROM events \nWHERE events.occurred >= $1::' + TS +
                           ' AND events.occurred <= $2::' + TS),
    'read_events_range': ('read_events_range',
                          'SELECT events.occurred, events.event, events.resource_id, events.resource, '
                          'events.related_resource_ids, events.related, events.payload, events.received, '
                          'events.recorded, events.follows, events.id, events.created, events.updated \nFROM events \n'
                          'WHERE events.occurred >= $1::' + TS + ' AND events.occurred <= $2::' + TS +
                          ' ORDER BY events.occurred DESC \n LIMIT $3::INTEGER OFFSET $4::INTEGER'),
    # background services of the server that read flow_run (late runs every 5 s, cancellation cleanup every 20 s)
    'late_runs': ('service_late_runs',
                  'SELECT flow_run.id, flow_run.next_scheduled_start_time \nFROM flow_run \n'
                  'WHERE flow_run.next_scheduled_start_time <= $1::' + TS + ' AND flow_run.state_type = '
                  '$2::state_type AND flow_run.state_name = $3::VARCHAR \n LIMIT $4::INTEGER'),
    'cancelled_runs': ('service_cancellation_cleanup',
                       'SELECT flow_run.id \nFROM flow_run \nWHERE flow_run.state_type = $1::state_type AND '
                       'flow_run.end_time IS NOT NULL AND flow_run.end_time >= $2::' + TS + ' AND flow_run.id > '
                       '$3::UUID ORDER BY flow_run.id \n LIMIT $4::INTEGER'),
}

EVENT_COLUMNS = ('occurred', 'event', 'resource_id', 'resource', 'related_resource_ids', 'related', 'payload',
                 'received', 'recorded', 'follows', 'id', 'created', 'updated')
EVENT_TYPES = (TS, 'VARCHAR', 'VARCHAR', 'JSONB', 'JSONB', 'JSONB', 'JSONB', TS, TS, 'UUID', 'UUID', TS, TS)
LOG_COLUMNS = ('name', 'level', 'flow_run_id', 'task_run_id', 'message', 'timestamp', 'id', 'created', 'updated')
LOG_TYPES = ('VARCHAR', 'SMALLINT', 'UUID', 'UUID', 'VARCHAR', TS, 'UUID', TS, TS)


def _values(types, rows):
    groups = []
    n = 0
    for dummy in range(rows):
        parts = []
        for t in types:
            n += 1
            parts.append('$%d::%s' % (n, t))
        groups.append('(' + ', '.join(parts) + ')')
    return ', '.join(groups)


def insert_events_sql(rows):
    """INSERT of `rows` events, ON CONFLICT DO NOTHING RETURNING id (events/storage/database.py)."""
    return ('INSERT INTO events (' + ', '.join(EVENT_COLUMNS) + ') VALUES ' + _values(EVENT_TYPES, rows) +
            ' ON CONFLICT DO NOTHING RETURNING events.id')


def insert_logs_sql(rows):
    """INSERT of `rows` logs in one statement (models/logs.py create_logs)."""
    return 'INSERT INTO log (' + ', '.join(LOG_COLUMNS) + ') VALUES ' + _values(LOG_TYPES, rows)
