"""The shares of every split version total its total_bp (10,000), checked at commit.

A deferred constraint trigger on PostgreSQL: admin edits, scripts and races cannot
leave a version off 100 %. SQLite (the demo database) relies on the service check.
"""

from django.db import migrations

CREATE = """
CREATE OR REPLACE FUNCTION tracks_check_split_total() RETURNS trigger AS $$
DECLARE
    vid bigint;
    expected integer;
    actual integer;
BEGIN
    IF TG_TABLE_NAME = 'tracks_splitversion' THEN
        vid := NEW.id;
    ELSIF TG_OP = 'DELETE' THEN
        vid := OLD.version_id;
    ELSE
        vid := NEW.version_id;
    END IF;
    SELECT total_bp INTO expected FROM tracks_splitversion WHERE id = vid;
    IF NOT FOUND THEN
        RETURN NULL;  -- the version itself was deleted
    END IF;
    SELECT COALESCE(SUM(basis_points), 0) INTO actual
        FROM tracks_tracksplit WHERE version_id = vid;
    IF actual <> expected THEN
        RAISE EXCEPTION 'split version % totals % basis points, not %', vid, actual, expected
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;

CREATE CONSTRAINT TRIGGER tracks_split_total_on_shares
    AFTER INSERT OR UPDATE OR DELETE ON tracks_tracksplit
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION tracks_check_split_total();

CREATE CONSTRAINT TRIGGER tracks_split_total_on_version
    AFTER INSERT OR UPDATE ON tracks_splitversion
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION tracks_check_split_total();
"""

DROP = """
DROP TRIGGER IF EXISTS tracks_split_total_on_shares ON tracks_tracksplit;
DROP TRIGGER IF EXISTS tracks_split_total_on_version ON tracks_splitversion;
DROP FUNCTION IF EXISTS tracks_check_split_total();
"""


def _on_postgres(sql):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(sql, params=None)  # the SQL holds % placeholders of its own

    return run


class Migration(migrations.Migration):
    dependencies = [("tracks", "0001_initial")]

    operations = [migrations.RunPython(_on_postgres(CREATE), _on_postgres(DROP))]
