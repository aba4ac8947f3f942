"""Column types shared by the models, portable across SQLite, PostgreSQL and MariaDB."""

from sqlalchemy import JSON, LargeBinary, String, Text
from sqlalchemy.dialects import mysql

# MySQL's TEXT and BLOB stop at 64 KiB; a served spec may approach the 1 MiB body limit.
LongText = Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")
LongBlob = LargeBinary().with_variant(mysql.LONGBLOB(), "mysql", "mariadb")
Json = JSON()
Uuid = String(36)
Digest = String(64)
Name = String(255)
