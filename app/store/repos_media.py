"""SQL behind ``app.services.ports_media.MediaRepo``: ``media_blobs`` rows and who uses a blob."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, func, select
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from app.domain.media import BlobRef
from app.services.ports_media import MediaBlobRecord, MediaUse
from app.store.schema import channels, media_blobs, messages


class MediaSql:
    """Media rows; mixed into the messaging repository (same connection, same transaction)."""

    _c: Connection

    def add_media_blob(self, ref: BlobRef, thumb_sha256: str | None, at: datetime) -> bool:
        values = {"sha256": ref.sha256, "size": ref.size, "mime": ref.mime}
        stmt = sqlite_insert(media_blobs).values(**values, thumb_sha256=thumb_sha256, created_at=at)
        # A known blob only gains a thumbnail it lacked: redelivery changes nothing else.
        thumb = func.coalesce(media_blobs.c.thumb_sha256, stmt.excluded.thumb_sha256)
        stmt = stmt.on_conflict_do_update(index_elements=["sha256"], set_={"thumb_sha256": thumb})
        existed = self.media_blob(ref.sha256) is not None
        self._c.execute(stmt)
        return not existed

    def media_blob(self, sha256: str) -> MediaBlobRecord | None:
        row = self._c.execute(select(media_blobs).where(media_blobs.c.sha256 == sha256)).first()
        if row is None:
            return None
        return MediaBlobRecord(row.sha256, row.size, row.mime, row.thumb_sha256)

    def media_uses(self, sha256: str) -> list[MediaUse]:
        m = messages.c
        cols = (m.id, m.ticket_id, channels.c.branch_id, m.media_name, m.media_mime)
        joined = messages.join(channels, channels.c.id == m.channel_id)
        query = select(*cols).select_from(joined).where(m.media_sha256 == sha256).order_by(m.id)
        return [MediaUse(r[0], r[1], r[2], r[3], r[4]) for r in self._c.execute(query)]
