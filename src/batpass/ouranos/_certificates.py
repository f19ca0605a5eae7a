"""The certificate data targets: ``cfpCertification`` of ``/api/v1/datatransport`` (a part's
certificates) and the extensions ``cfpCertificationInfo`` (describe a certificate and its
files) and ``cfpCertificationFile`` (upload and download the files).

Rules (published ``CfpCertificationModel``; the traceability back end's certificate upload):
files have one of the accepted extensions and at most 25 MB; an operator certifies and uploads
for its own parts only; a buyer sees the supplier's certificates of its child part, and their
files, only in an accepted trade whose supplier released them (``cfpCertificationAcl``).
"""

from __future__ import annotations

from dataclasses import replace

from batpass.core.errors import InvalidInput, NotFound
from batpass.ouranos._context import HubComponent, Principal, check_text, new_id
from batpass.ouranos._sql import OuranosStore, trades
from batpass.ouranos.errors import NotYourData
from batpass.ouranos.model import (
    ACTIVE_STATES,
    CERTIFICATE_MAX_BYTES,
    Certification,
    CertificationFile,
    certificate_extension,
)
from batpass.store import UnitOfWork


class Certificates(HubComponent):
    """Operators' CFP certificates and their files."""

    def upload_certificate_file(self, who: Principal, file_name: str, content: bytes) -> CertificationFile:
        """Extension ``cfpCertificationFile`` (PUT): store one certificate file of the caller."""
        certificate_extension(file_name)
        check_text(file_name, "fileName", 1, 256)
        if not content:
            raise InvalidInput("the certificate file is empty", field="body", rule="a file has content")
        if len(content) > CERTIFICATE_MAX_BYTES:
            raise InvalidInput("the certificate file exceeds 25 MB", field="body", rule="API body limit 25 MB")
        f = CertificationFile(who.operator_id, new_id(), file_name)
        with UnitOfWork(self.engine) as uow:
            self.store(uow).insert_file(f.operator_id, f.file_id, f.file_name, content)
            uow.commit()
        return f

    def put_certification(self, who: Principal, cert: Certification) -> Certification:
        """Extension ``cfpCertificationInfo`` (PUT): describe a part's certificate and its files."""
        me = who.operator_id
        check_text(cert.description or "", "cfpCertificationDescription", 0, 100)
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            if store.part(me, cert.trace_id) is None:
                raise NotYourData(f"traceId {cert.trace_id} is not one of your parts", rule="certify your own parts")
            new = not cert.cfp_certification_id
            if new:
                cert = replace(cert, cfp_certification_id=new_id())
            else:
                row = store.certification(cert.cfp_certification_id)
                if row is None or row["operator_id"] != me or row["trace_id"] != cert.trace_id:
                    raise NotYourData(
                        f"cfpCertificationId {cert.cfp_certification_id} is not yours", rule="your certificates only"
                    )
            files = []
            for i, f in enumerate(cert.files):
                row = store.file(me, f.file_id)
                if row is None:
                    raise NotYourData(
                        f"fileId {f.file_id} is not one of your uploaded files",
                        rule="upload first",
                        field=f"cfpCertificationFileInfo[{i}]",
                    )
                files.append(CertificationFile(me, f.file_id, row["file_name"]))
            cert = replace(cert, files=tuple(files))
            store.save_certification(me, cert, new=new)
            uow.commit()
            return cert

    def get_certifications(self, who: Principal, trace_id: str) -> list[Certification]:
        """``GET cfpCertification``: own certificates of the part, and — for a child part in an
        accepted trade — the supplier's certificates: as they are if released to the caller,
        else each with its description and files withheld (published ``requestCfpNull``)."""
        me = who.operator_id
        with UnitOfWork(self.engine, write=False) as uow:
            store = self.store(uow)
            part = store.part(me, trace_id)
            if part is None:
                return []
            out = store.certifications(me, trace_id)
            up = self._certificate_source(store, me, trace_id)
            if up is not None:
                op, up_trace, released = up
                for c in store.certifications(op, up_trace):
                    if released:
                        out.append(replace(c, trace_id=trace_id))
                    else:
                        out.append(replace(c, trace_id=trace_id, description=None, files=(), withheld=True))
            return out

    def _certificate_source(self, store: OuranosStore, me: str, trace_id: str) -> tuple[str, str, bool] | None:
        """The supplier's part behind ``trace_id`` in an accepted trade, and whether it released
        its certificates to ``me``."""
        live = store.trades_where(
            trades.c.downstream_operator_id == me,
            trades.c.downstream_trace_id == trace_id,
            trades.c.status.in_([str(s) for s in ACTIVE_STATES]),
        )
        t = next((x for x in live if x.accepted), None)
        if t is None or t.upstream_trace_id is None:
            return None
        released = store.certification_release(t.upstream_operator_id, t.upstream_trace_id, me)
        return t.upstream_operator_id, t.upstream_trace_id, bool(released)

    def download_certificate_file(self, who: Principal, file_operator_id: str, file_id: str) -> tuple[str, bytes]:
        """Extension ``cfpCertificationFile`` (GET): own files, or files released to the caller."""
        me = who.operator_id
        with UnitOfWork(self.engine, write=False) as uow:
            store = self.store(uow)
            row = store.file(file_operator_id, file_id)
            if row is None:
                raise NotFound(f"fileId {file_id} not found", rule="files you own or were released")
            if file_operator_id != me:
                cert = store.certification(row["cfp_certification_id"]) if row["cfp_certification_id"] else None
                allowed = False
                if cert is not None:
                    for _t in store.trades_where(
                        trades.c.downstream_operator_id == me,
                        trades.c.upstream_operator_id == file_operator_id,
                        trades.c.upstream_trace_id == cert["trace_id"],
                        trades.c.status.in_([str(s) for s in ACTIVE_STATES]),
                    ):
                        if store.certification_release(file_operator_id, cert["trace_id"], me):
                            allowed = True
                if not allowed:
                    raise NotFound(f"fileId {file_id} not found", rule="files you own or were released")
            return str(row["file_name"]), bytes(row["content"])
