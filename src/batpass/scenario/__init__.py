"""A seeded EU/JP battery supply chain: the one data set for tests, the demo and benchmarks.

Lithium brine (Chile) and spodumene (Australia), cobalt (DR Congo; one site in a region the
synthetic CAHRA sample flags), nickel (Indonesia), natural graphite (Mozambique) and manganese
(South Africa); refiners in China and Japan; precursor, cathode and cell makers in Japan; a pack/car maker in Germany; a
recycler in the Netherlands returning lithium, cobalt and nickel into new cells; one black-mass
shipment that breaks its export authorisation.

Element masses per kWh (cell level) follow from the cathode's stoichiometry and its usable
specific energy, which :data:`CHEMISTRIES` states with sources; ``tests/unit/scenario`` checks
the resulting kg per kWh against published ranges (:data:`PLAUSIBLE_KG_PER_KWH`).

Generation is pure and deterministic for a seed: ids are UUIDv7-shaped and time-ordered, drawn
from the seeded generator.
"""

from __future__ import annotations

import datetime as _dt
import random
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from batpass.core.countries import EU27
from batpass.core.errors import InvalidInput
from batpass.ledger import MATERIALS, Element
from batpass.sites import CahraDataset

__all__ = [
    "CHEMISTRIES",
    "COMPANIES",
    "DEMO_LOTS",
    "MINE_SITES",
    "PLAUSIBLE_KG_PER_KWH",
    "Company",
    "Scenario",
    "flagged_sites",
    "generate",
]


@dataclass(frozen=True)
class Company:
    code: str
    name: str
    country: str
    site: str
    role: str

    @property
    def did(self) -> str:
        return f"did:web:{self.code}.batpass.example"


COMPANIES: Mapping[str, Company] = {
    c.code: c
    for c in [
        Company("atacama-lithium", "Atacama Lithium SpA", "CL", "MINE-CL-1", "mine (brine)"),
        Company("pilbara-spodumene", "Pilbara Spodumene Pty", "AU", "MINE-AU-1", "mine (spodumene)"),
        Company("katanga-cobalt", "Katanga Cobalt SARL", "CD", "MINE-CD-1", "mine (cobalt)"),
        Company("kolwezi-artisanal", "Kolwezi Artisanal Cooperative", "CD", "MINE-CD-2", "mine (cobalt, high-risk)"),
        Company("sulawesi-nickel", "Sulawesi Nickel HPAL", "ID", "MINE-ID-1", "mine (nickel MHP)"),
        Company("cabo-graphite", "Cabo Delgado Graphite", "MZ", "MINE-MZ-1", "mine (graphite)"),
        Company("kalahari-manganese", "Kalahari Manganese", "ZA", "MINE-ZA-1", "mine (manganese)"),
        Company("jiangxi-refining", "Jiangxi Lithium Refining", "CN", "REF-CN-1", "refiner (lithium, graphite)"),
        Company("zhejiang-cobalt", "Zhejiang Cobalt Refining", "CN", "REF-CN-2", "refiner (cobalt)"),
        Company("niihama-refining", "Niihama Nickel Refining", "JP", "REF-JP-1", "refiner (nickel, manganese)"),
        Company("kansai-precursor", "Kansai Precursor KK", "JP", "PCAM-JP-1", "precursor maker"),
        Company("tokai-cathode", "Tokai Cathode KK", "JP", "CAM-JP-1", "cathode maker"),
        Company("osaka-cells", "Osaka Cells KK", "JP", "CELL-JP-1", "cell maker"),
        Company("rhein-auto", "Rhein Automobil AG", "DE", "PACK-DE-1", "pack and car maker"),
        Company("rotterdam-recycling", "Rotterdam Battery Recycling BV", "NL", "REC-NL-1", "recycler"),
    ]
}


def _mine(
    code: str, region: str, lat: float, lon: float, minerals: list[str], *certs: dict[str, Any]
) -> dict[str, Any]:
    c = COMPANIES[code]
    return {
        "siteId": c.site,
        "name": f"{c.name} mine",
        "operator": c.name,
        "siteType": "mine",
        "country": c.country,
        "region": region,
        "location": {"latitude": lat, "longitude": lon},
        "minerals": minerals,
        "certifications": list(certs),
        "dueDiligence": [],
    }


#: the mines of the scenario as the site register records them (wire form, docs/sites.md): real
#: mining districts (ISO 3166-2 region, approximate coordinates) for fictional companies. The
#: artisanal cobalt site lies in Lualaba (CD-LU), which the synthetic CAHRA sample flags; the
#: industrial cobalt mine is placed in Haut-Lomami (CD-HL), outside the sample's regions, so the
#: story has one flagged cobalt source beside an unflagged one. Certifications: IRMA at the brine
#: operation and the Copper Mark at the industrial cobalt mine (no expiry published), the Nickel
#: Mark in assessment at the HPAL site.
MINE_SITES: tuple[dict[str, Any], ...] = (
    _mine(
        "atacama-lithium",
        "CL-AN",
        -23.50,
        -68.25,
        ["lithium"],
        {"scheme": "IRMA", "status": "certified", "level": "IRMA 75"},
    ),
    _mine("pilbara-spodumene", "AU-WA", -21.03, 118.90, ["lithium"]),
    _mine(
        "katanga-cobalt",
        "CD-HL",
        -8.74,
        24.99,
        ["cobalt", "copper"],
        {"scheme": "Copper Mark", "status": "certified"},
    ),
    _mine("kolwezi-artisanal", "CD-LU", -10.72, 25.47, ["cobalt"]),
    _mine(
        "sulawesi-nickel",
        "ID-ST",
        -2.83,
        122.15,
        ["nickel", "cobalt"],
        {"scheme": "Nickel Mark", "status": "in assessment"},
    ),
    _mine("cabo-graphite", "MZ-P", -13.33, 38.58, ["graphite"]),
    _mine("kalahari-manganese", "ZA-NC", -27.20, 22.96, ["manganese"]),
)


def flagged_sites(dataset: CahraDataset) -> frozenset[str]:
    """The scenario's mines that ``dataset`` flags for enhanced due diligence (with the synthetic
    sample: the artisanal cobalt site) — what a node's register hands its ledger."""
    return frozenset(
        m["siteId"] for m in MINE_SITES if dataset.screen(country=m["country"], region=m["region"]).flagged
    )


@dataclass(frozen=True)
class Chemistry:
    """A cell chemistry: cathode active material and the masses per kWh (cell level) of what goes
    into a cell. ``cam_kg_per_kwh`` = 1 / (specific capacity × average voltage) of the CAM."""

    cam: str
    cam_kg_per_kwh: float
    graphite_kg_per_kwh: float
    copper_kg_per_kwh: float
    aluminium_kg_per_kwh: float
    source: str


CHEMISTRIES: Mapping[str, Chemistry] = {
    # NMC811: ~200 mAh/g practical at 3.65 V → 0.73 Wh/g → 1.37 kg CAM per kWh.
    # Graphite 350 mAh/g with N/P ≈ 1.1 at the cell's voltage → ~1.0 kg/kWh. Foils: Cu 8 µm,
    # Al 12 µm at typical loadings → ~0.45 and ~0.25 kg/kWh.
    # Sources: Argonne National Laboratory, BatPaC 5.0 (2022) default NMC811-G cell design;
    # IEA (2021), "The Role of Critical Minerals in Clean Energy Transitions", ch. 3, mineral
    # intensity of Li-ion cathodes; Xu et al. (2020), Commun. Mater. 1, 99.
    "NMC811": Chemistry(
        "cam_nmc811", 1.37, 1.0, 0.45, 0.25, "BatPaC 5.0; IEA 2021 ch. 3; Xu et al. 2020 (Commun. Mater. 1, 99)"
    ),
    # LFP: ~155 mAh/g practical at 3.2 V → 0.50 Wh/g → 2.0 kg CAM per kWh.
    "LFP": Chemistry("cam_lfp", 2.0, 1.1, 0.55, 0.30, "BatPaC 5.0 LFP-G design; IEA 2021 ch. 3; Xu et al. 2020"),
}

#: published ranges (kg element per kWh, cell level) the generated batteries must fall within:
#: IEA 2021 (fig. "mineral intensity by cathode chemistry"), BatPaC 5.0 and Xu et al. 2020
PLAUSIBLE_KG_PER_KWH: Mapping[str, Mapping[str, tuple[float, float]]] = {
    "NMC811": {
        "Li": (0.08, 0.14),
        "Ni": (0.55, 0.85),
        "Co": (0.05, 0.12),
        "Mn": (0.05, 0.12),
        "C_nat": (0.7, 1.3),
        "Cu": (0.3, 1.0),
        "Al": (0.15, 1.0),
    },
    "LFP": {"Li": (0.07, 0.12), "C_nat": (0.7, 1.4), "Cu": (0.3, 1.1), "Al": (0.15, 1.2)},
}

#: when the black mass leaves for Korea: after it became hazardous waste (2026-11-09)
BLACK_MASS_EXPORT_AT = "2026-11-16T09:00:00Z"

#: when the car maker tries to sell two end-of-life packs to a buyer outside the OECD: waste
#: batteries carrying lithium and nickel are hazardous waste from 2026-11-09, whose export to a
#: non-OECD country Regulation (EU) 2024/1157 prohibits (docs/outflows.md)
WASTE_EXPORT_AT = "2026-11-23T09:00:00Z"
#: the buyer's site and country (Nigeria: not an OECD member)
WASTE_EXPORT_TO = {"id": "BATT-BROKER-NG-1", "country": "NG"}

#: the Katanga mine's next extraction: weeks after the shipment its customer never acknowledged,
#: it moves the mine's ledger past the reconciliation window (docs/outflows.md "Reconciliation
#: across nodes")
NEXT_EXTRACTION_AT = "2026-03-02T09:00:00Z"

#: scale of the fixed demo (about 200 batteries)
DEMO_LOTS = 1900
_BATTERIES_PER_ROUND = 10
_KWH = 60.0


def _f(material: str, el: Element) -> float:
    fr = MATERIALS[material].fractions
    assert fr is not None
    return fr.get(el, 0.0)


@dataclass
class Scenario:
    """The generated events (in recording order) with what tests and the demo look up."""

    seed: int
    events: list[dict[str, Any]] = field(default_factory=list)
    batteries: list[str] = field(default_factory=list)  # battery lot ids
    battery_ids: list[str] = field(default_factory=list)  # GS1 Digital Link URIs
    authorisations: list[dict[str, Any]] = field(default_factory=list)
    lots: int = 0
    black_mass_shipment: str | None = None
    #: one call's events (not in ``events``) a shipper's node in ``block`` mode refuses whole: the
    #: car maker declares two of its batteries waste, collects them and ships them to a non-OECD
    #: buyer after 2026-11-09 (docs/outflows.md "Warn or block")
    refused_attempt: list[dict[str, Any]] = field(default_factory=list)
    refused_shipment: str | None = None
    #: a shipment to another owner that no receipt acknowledges (multi-owner scenarios only):
    #: reconciliation finds it missing at both ends (docs/outflows.md)
    unacknowledged_shipment: str | None = None

    def owners(self) -> list[str]:
        return sorted({e["owner"] for e in self.events})


class _Gen:
    def __init__(self, seed: int, owner: str | None, resolver: str, owners: Mapping[str, str] | None = None) -> None:
        self.rnd = random.Random(seed)
        self.owner = owner
        self.owners: Mapping[str, str] = dict(owners or {})
        self.resolver = resolver.rstrip("/")
        self.t = _dt.datetime(2026, 1, 5, tzinfo=_dt.UTC)
        self.ms = int(self.t.timestamp() * 1000)
        self.sc = Scenario(seed)
        self.serial = 0
        self.auth: dict[tuple[str, str], set[str]] = {}
        self.assay: Mapping[str, float] | None = None

    def uid(self) -> str:
        self.ms += 1
        rb = self.rnd.getrandbits(74)
        val = (self.ms << 80) | (0x7 << 76) | ((rb >> 62) << 64) | (0b10 << 62) | (rb & ((1 << 62) - 1))
        return str(uuid.UUID(int=val))

    def at(self) -> str:
        self.t += _dt.timedelta(minutes=7)
        return self.t.isoformat().replace("+00:00", "Z")

    def co(self, code: str) -> Company:
        return COMPANIES[code]

    def own(self, c: Company) -> str:
        return self.owner or self.owners.get(c.code, c.did)

    def event(
        self,
        kind: str,
        c: Company,
        *,
        inputs: Sequence[tuple[str, float]] = (),
        outputs: Sequence[dict[str, Any]] = (),
        **extra: Any,
    ) -> dict[str, Any]:
        e: dict[str, Any] = {
            "id": self.uid(),
            "kind": kind,
            "owner": self.own(c),
            "at": self.at(),
            "site": {"id": c.site, "country": c.country},
        }
        if inputs:
            e["inputs"] = [{"lot": lot, "quantity": {"value": round(q, 6), "unit": "kg"}} for lot, q in inputs]
        if outputs:
            e["outputs"] = list(outputs)
            self.sc.lots += len(outputs)
        e.update(extra)
        self.sc.events.append(e)
        return e

    def out(self, material: str, kg: float, **extra: Any) -> dict[str, Any]:
        return {"lot": self.uid(), "material": material, "quantity": {"value": round(kg, 6), "unit": "kg"}, **extra}

    def mine(self, code: str, material: str, kg: float, **extra: Any) -> tuple[str, float]:
        o = self.out(material, kg, custody="identity_preserved", **extra)
        self.event("extraction", self.co(code), outputs=[o])
        return o["lot"], kg

    def ship(
        self,
        lot: tuple[str, float],
        src: str,
        dst: str,
        material: str,
        mpp: float | None = None,
        assay: Mapping[str, float] | None = None,
    ) -> tuple[str, float]:
        """A shipment between two companies: dispatch at the supplier, receipt at the customer."""
        a, b = self.co(src), self.co(dst)
        orig_out = self.out

        def out(mat: str, kg: float, **extra: Any) -> dict[str, Any]:
            if mpp is None:
                return orig_out(mat, kg, **extra)
            return {
                "lot": self.uid(),
                "material": mat,
                "quantity": {"value": round(kg / mpp), "unit": "piece"},
                "mass_per_piece_kg": mpp,
                **extra,
            }

        self.out = out  # type: ignore[method-assign,assignment]
        self.assay = assay
        try:
            return self._ship(lot, a, b, material)
        finally:
            self.out = orig_out  # type: ignore[method-assign]

    def _ship(self, lot: tuple[str, float], a: Company, b: Company, material: str) -> tuple[str, float]:
        # the shipper holds an authorisation for what the shipment rules or a node's policy may
        # ask one for: strategic materials leaving their customs territory, and waste batteries
        # crossing a border (hazardous waste from 2026-11-09, docs/outflows.md)
        if (MATERIALS[material].strategic and _territory(a.country) != _territory(b.country)) or (
            material == "waste_battery" and a.country != b.country
        ):
            self.auth.setdefault((self.own(a), material), set()).add(b.country)
        if self.owner is not None:
            o = self.out(material, lot[1])
            self.event(
                "shipment",
                a,
                inputs=[lot],
                outputs=[o],
                shipment={
                    "to_site": {"id": b.site, "country": b.country},
                    "destination_country": b.country,
                    "document": f"BL-{o['lot'][:8]}",
                },
            )
            return o["lot"], lot[1]
        o = self.out(material, lot[1])
        self.event(
            "shipment",
            a,
            inputs=[lot],
            outputs=[o],
            shipment={
                "to_site": {"id": b.site, "country": b.country},
                "destination_country": b.country,
                "document": f"BL-{o['lot'][:8]}",
                "to_owner": self.own(b),
            },
        )
        r = self.out(material, lot[1])
        if self.assay is not None:
            r["assay"] = {k: round(v, 9) for k, v in self.assay.items() if v > 0}
        self.event(
            "receipt",
            b,
            outputs=[r],
            receipt={"from_owner": self.own(a), "from_lot": o["lot"], "document": f"BL-{o['lot'][:8]}"},
        )
        return r["lot"], lot[1]

    def make(
        self,
        code: str,
        inputs: list[tuple[str, float]],
        material: str,
        kg: float,
        *,
        yld: Any = 0.97,
        kind: str = "transformation",
        **extra: Any,
    ) -> tuple[str, float]:
        o = self.out(material, kg, **extra)
        self.event(kind, self.co(code), inputs=inputs, outputs=[o], **{"yield": yld})
        return o["lot"], kg


def generate(
    *,
    lots: int = DEMO_LOTS,
    seed: int = 7,
    owner: str | None = None,
    resolver: str = "https://rhein-auto.batpass.example",
    owners: Mapping[str, str] | None = None,
) -> Scenario:
    """Generate the scenario until at least ``lots`` lots exist (10² to 10⁶; batteries follow:
    ten per production round). ``owner`` records every company's events in one partition (a
    single-node view, used by local traces and benchmarks); by default each company is its own
    owner (``Company.did``) and goods cross partitions by shipment and receipt. ``owners`` maps
    company codes (:data:`COMPANIES`) to the DID of the node that records them (several
    companies may share one node, e.g. every mine on one "mining" node); unmapped companies keep
    their own DID. Shipments and receipts then cross nodes' partitions as they cross partitions.
    A shipment between two companies of one owner stays a shipment and a receipt in that
    partition."""
    if owner is not None and owners:
        raise InvalidInput(
            "owner (one partition) and owners (per company) exclude each other", field="owners", rule="scenario.owners"
        )
    unknown = sorted(set(owners or {}) - set(COMPANIES))
    if unknown:
        raise InvalidInput(f"unknown company codes {unknown}", field="owners", rule="scenario.owners: COMPANIES codes")
    if not 10 <= lots <= 2_000_000:
        raise InvalidInput(f"lots must be between 10 and 2,000,000, got {lots}", field="lots", rule="scenario.scale")
    g = _Gen(seed, owner, resolver, owners)
    recycled: list[tuple[str, float, str]] = []  # (lot at the cathode maker, kg, material)
    rnd_no = 0
    rec = g.co("rotterdam-recycling")
    g.sc.authorisations.append(
        {
            "id": "EXP-NL-BM-1",
            "holder": g.own(rec),
            "material": "black_mass",
            "destinations": ["EU", "JP", "NO"],
            "cap_kg": 50_000.0,
            "valid_from": "2026-01-01T00:00:00Z",
            "valid_to": "2027-12-31T23:59:59Z",
        }
    )
    while g.sc.lots < lots:
        rnd_no += 1
        chem = CHEMISTRIES["NMC811"]
        kwh = _KWH * _BATTERIES_PER_ROUND
        cam_kg = chem.cam_kg_per_kwh * kwh
        m = 1.08  # margin so every step keeps within its declared yield
        # element needs of the CAM (kg)
        li = cam_kg * _f("cam_nmc811", Element.LI)
        ni = cam_kg * _f("cam_nmc811", Element.NI)
        co = cam_kg * _f("cam_nmc811", Element.CO)
        mn = cam_kg * _f("cam_nmc811", Element.MN)
        # mines
        brine = g.mine("atacama-lithium", "lithium_brine_concentrate", li * 0.5 * m * m * m / 0.06)
        spod = g.mine(
            "pilbara-spodumene", "spodumene_concentrate", li * 0.6 * m * m * m / _f("spodumene_concentrate", Element.LI)
        )
        share_hr = 0.1 + 0.1 * g.rnd.random()
        cob1 = g.mine("katanga-cobalt", "cobalt_hydroxide", co * (1 - share_hr) * m * m * m / 0.35)
        cob2 = g.mine("kolwezi-artisanal", "cobalt_hydroxide", co * share_hr * m * m * m / 0.35, assay={"Co": 0.35})
        mhp = g.mine("sulawesi-nickel", "nickel_mhp", ni * m * m * m / 0.39)
        gra = g.mine("cabo-graphite", "natural_graphite_concentrate", chem.graphite_kg_per_kwh * kwh * m * m * m / 0.95)
        mno = g.mine("kalahari-manganese", "manganese_ore", mn * m * m * m / 0.44)
        # to refiners
        brine = g.ship(brine, "atacama-lithium", "jiangxi-refining", "lithium_brine_concentrate")
        spod = g.ship(spod, "pilbara-spodumene", "jiangxi-refining", "spodumene_concentrate")
        cob1 = g.ship(cob1, "katanga-cobalt", "zhejiang-cobalt", "cobalt_hydroxide")
        cob2 = g.ship(cob2, "kolwezi-artisanal", "zhejiang-cobalt", "cobalt_hydroxide")
        mhp = g.ship(mhp, "sulawesi-nickel", "niihama-refining", "nickel_mhp")
        gra = g.ship(gra, "cabo-graphite", "jiangxi-refining", "natural_graphite_concentrate")
        mno = g.ship(mno, "kalahari-manganese", "niihama-refining", "manganese_ore")
        # refining (outputs sized to the element they carry, within yield 0.97)
        li_c = g.make(
            "jiangxi-refining", [brine], "lithium_carbonate", li * 0.5 * m * m / _f("lithium_carbonate", Element.LI)
        )
        li_h = g.make(
            "jiangxi-refining", [spod], "lithium_hydroxide", li * 0.6 * m * m / _f("lithium_hydroxide", Element.LI)
        )
        co_s = g.make(
            "zhejiang-cobalt",
            [cob1, cob2],
            "cobalt_sulphate",
            co * m * m / _f("cobalt_sulphate", Element.CO),
            custody="controlled_blending",
        )
        ni_s = g.make("niihama-refining", [mhp], "nickel_sulphate", ni * m * m / _f("nickel_sulphate", Element.NI))
        mn_s = g.make(
            "niihama-refining", [mno], "manganese_sulphate", mn * m * m / _f("manganese_sulphate", Element.MN)
        )
        sph = g.make("jiangxi-refining", [gra], "spherical_graphite", chem.graphite_kg_per_kwh * kwh * m * m / 0.9995)
        # to Japan
        li_c = g.ship(li_c, "jiangxi-refining", "tokai-cathode", "lithium_carbonate")
        li_h = g.ship(li_h, "jiangxi-refining", "tokai-cathode", "lithium_hydroxide")
        co_s = g.ship(co_s, "zhejiang-cobalt", "kansai-precursor", "cobalt_sulphate")
        ni_s = g.ship(ni_s, "niihama-refining", "kansai-precursor", "nickel_sulphate")
        mn_s = g.ship(mn_s, "niihama-refining", "kansai-precursor", "manganese_sulphate")
        sph = g.ship(sph, "jiangxi-refining", "osaka-cells", "spherical_graphite")
        # recycled Co/Ni sulphate from the recycler join the precursor; recycled Li2CO3 the cathode
        rec_p = [(lot, kg) for lot, kg, mat in recycled if mat in ("cobalt_sulphate", "nickel_sulphate")]
        rec_c = [(lot, kg) for lot, kg, mat in recycled if mat == "lithium_carbonate"]
        recycled = []
        pcam_kg = cam_kg * _f("cam_nmc811", Element.NI) / _f("pcam_nmc811", Element.NI) * m
        pcam = g.make(
            "kansai-precursor", [co_s, ni_s, mn_s, *rec_p], "pcam_nmc811", pcam_kg, custody="controlled_blending"
        )
        pcam = g.ship(pcam, "kansai-precursor", "tokai-cathode", "pcam_nmc811")
        cam = g.make("tokai-cathode", [pcam, li_c, li_h, *rec_c], "cam_nmc811", cam_kg, custody="controlled_blending")
        cam = g.ship(cam, "tokai-cathode", "osaka-cells", "cam_nmc811")
        # cells: 250 cells of 0.24 kWh per round (foil suppliers are outside the network)
        cu = g.out("copper_foil", chem.copper_kg_per_kwh * kwh)
        al = g.out("aluminium_foil", chem.aluminium_kg_per_kwh * kwh)
        cells_co = g.co("osaka-cells")
        for foil in (cu, al):
            g.event(
                "receipt",
                cells_co,
                outputs=[foil],
                receipt={
                    "from_owner": "did:web:foils.batpass.example",
                    "from_lot": f"F-{foil['lot']}",  # each delivery its own supplier lot
                    "document": f"DN-{foil['lot'][:8]}",
                },
            )
        n_cells = int(kwh / 0.24)
        cell_mass = (
            (cam_kg + chem.graphite_kg_per_kwh * kwh + (chem.copper_kg_per_kwh + chem.aluminium_kg_per_kwh) * kwh)
            / n_cells
            * 1.45
        )  # electrolyte, separator, casing
        cell_total = cell_mass * n_cells
        cell_comp: dict[str, float] = {}
        for mat, kg_in in (
            (chem.cam, cam[1]),
            ("spherical_graphite", chem.graphite_kg_per_kwh * kwh),
            ("copper_foil", cu["quantity"]["value"]),
            ("aluminium_foil", al["quantity"]["value"]),
        ):
            for el, fr in (MATERIALS[mat].fractions or {}).items():
                cell_comp[el.value] = cell_comp.get(el.value, 0.0) + kg_in * fr / cell_total
        batt_comp = {k: v / 1.35 for k, v in cell_comp.items()}
        cell: dict[str, Any] = {
            "lot": g.uid(),
            "material": "cell",
            "quantity": {"value": n_cells, "unit": "piece"},
            "mass_per_piece_kg": round(cell_mass, 6),
        }
        g.event(
            "assembly",
            cells_co,
            inputs=[
                cam,
                (sph[0], chem.graphite_kg_per_kwh * kwh),
                (cu["lot"], cu["quantity"]["value"]),
                (al["lot"], al["quantity"]["value"]),
            ],
            outputs=[cell],
        )
        g.sc.lots += 1
        scrap = g.out("production_scrap", cell_mass * 2)
        g.event("transformation", cells_co, inputs=[(cell["lot"], cell_mass * 2)], outputs=[scrap])
        cell_lot = (cell["lot"], cell_mass * (n_cells - 2))
        cell_lot = g.ship(
            cell_lot,
            "osaka-cells",
            "rhein-auto",
            "cell",
            mpp=cell["mass_per_piece_kg"],
            assay={k: v * 0.999 for k, v in cell_comp.items()},
        )
        # batteries (pieces, one lot per battery, with its GS1 Digital Link id)
        car = g.co("rhein-auto")
        per = (n_cells - 2) // _BATTERIES_PER_ROUND
        batt_lots = []
        for _ in range(_BATTERIES_PER_ROUND):
            g.serial += 1
            bid = f"{g.resolver}/01/04012345000016/21/RA{g.serial:07d}"
            mass = per * cell_mass * 1.35
            b: dict[str, Any] = {
                "lot": g.uid(),
                "material": "battery",
                "quantity": {"value": 1, "unit": "piece"},
                "mass_per_piece_kg": round(mass, 6),
                "battery": {
                    "id": bid,
                    "model": "RA-EV-60",
                    "chemistry": "NMC811",
                    "capacity_kwh": _KWH,
                    "category": "ev",
                },
            }
            g.event("assembly", car, inputs=[(cell_lot[0], per * cell_mass)], outputs=[b])
            g.sc.lots += 1
            g.sc.batteries.append(b["lot"])
            g.sc.battery_ids.append(bid)
            batt_lots.append((b["lot"], mass))
        # end of life: two batteries per round go to the recycler (with the cell maker's scrap)
        if rnd_no > 1:
            for bl in batt_lots[:2]:
                g.event("status_change", car, status={"lot": bl[0], "value": "waste"})
            waste: dict[str, Any] = {
                "lot": g.uid(),
                "material": "waste_battery",
                "quantity": {"value": 2, "unit": "piece"},
                "mass_per_piece_kg": batt_lots[0][1],
            }
            g.event("collection", car, inputs=batt_lots[:2], outputs=[waste])
            g.sc.lots += 1
            waste_lot = g.ship(
                (waste["lot"], 2 * batt_lots[0][1]),
                "rhein-auto",
                "rotterdam-recycling",
                "waste_battery",
                mpp=batt_lots[0][1],
                assay={k: v * 0.999 for k, v in batt_comp.items()},
            )
            scrap_lot = g.ship(
                (scrap["lot"], cell_mass * 2),
                "osaka-cells",
                "rotterdam-recycling",
                "production_scrap",
                assay={k: v * 0.999 for k, v in cell_comp.items()},
            )
            bm_kg = waste_lot[1] * 0.35
            y_bm = {"Li": 0.95, "Co": 0.95, "Ni": 0.95, "Mn": 0.95, "C_nat": 0.95, "Cu": 0.05, "Al": 0.05}
            bm = g.make("rotterdam-recycling", [waste_lot], "black_mass", bm_kg, yld=y_bm, kind="recycling")
            bm_pre = g.make(
                "rotterdam-recycling", [scrap_lot], "black_mass", cell_mass * 2 * 0.45, yld=y_bm, kind="recycling"
            )
            post_factor = 1.0
            if rnd_no == 3:
                # half of this black mass leaves for a destination its authorisation does not name,
                # once black mass is hazardous waste (Delegated Decision (EU) 2025/934, from
                # 2026-11-09): an export to an OECD country under prior notification and consent
                half = bm[1] * 0.5
                o = g.out("black_mass", half)
                e = g.event(
                    "shipment",
                    rec,
                    inputs=[(bm[0], half)],
                    outputs=[o],
                    shipment={
                        "to_site": {"id": "SMELT-KR-1", "country": "KR"},
                        "destination_country": "KR",
                        "document": "BL-BM-KR-0001",
                        "to_owner": "did:web:onsan-smelting.batpass.example",
                    },
                    at=BLACK_MASS_EXPORT_AT,
                )
                g.sc.black_mass_shipment = e["id"]
                bm = (bm[0], half)
                post_factor = 0.5
            # recovered salts sized to what the black mass carries, at recovery yields (Annex XII)
            cam_share = 2 * per * (cam_kg / n_cells)
            for src, origin, share in (
                (bm, "post_consumer", post_factor),
                (bm_pre, "pre_consumer", 2 * cell_mass / (2 * per * cell_mass)),
            ):
                outs = []
                for mat, el, y in (
                    ("lithium_carbonate", Element.LI, 0.8),
                    ("cobalt_sulphate", Element.CO, 0.9),
                    ("nickel_sulphate", Element.NI, 0.9),
                ):
                    el_kg = cam_share * share * _f("cam_nmc811", el) * 0.95 * y * 0.98
                    outs.append(g.out(mat, el_kg / _f(mat, el), recycled=origin, custody="segregated"))
                g.event("recovery", rec, inputs=[src], outputs=outs, **{"yield": {"Li": 0.8, "Co": 0.9, "Ni": 0.9}})
                for o in outs:
                    dst = "tokai-cathode" if o["material"] == "lithium_carbonate" else "kansai-precursor"
                    lot = g.ship((o["lot"], o["quantity"]["value"]), "rotterdam-recycling", dst, o["material"])
                    recycled.append((lot[0], lot[1], o["material"]))
    if rnd_no and g.owner is None:
        _unacknowledged_shipment(g)
    if rnd_no:
        _waste_export_attempt(g, batt_lots[2:4])
    for n, ((holder, mat), dests) in enumerate(sorted(g.auth.items()), start=1):
        g.sc.authorisations.append(
            {
                "id": f"EXP-{n:03d}",
                "holder": holder,
                "material": mat,
                "destinations": sorted(dests),
                "cap_kg": 1e12,
                "valid_from": "2026-01-01T00:00:00Z",
                "valid_to": "2030-12-31T23:59:59Z",
            }
        )
    return g.sc


def _unacknowledged_shipment(g: _Gen) -> None:
    """:attr:`Scenario.unacknowledged_shipment`: the Katanga mine ships a lot of cobalt hydroxide
    to the Zhejiang refiner and no receipt ever acknowledges it; the mine's next extraction, on
    :data:`NEXT_EXTRACTION_AT`, puts the shipment past the 30-day window on the mine's ledger.
    Nothing else uses either lot, so every other figure of the scenario stays as it was."""
    mine, refiner = g.co("katanga-cobalt"), g.co("zhejiang-cobalt")
    lot = g.mine(mine.code, "cobalt_hydroxide", 2500.0)
    g.auth.setdefault((g.own(mine), "cobalt_hydroxide"), set()).add(refiner.country)
    o = g.out("cobalt_hydroxide", lot[1])
    e = g.event(
        "shipment",
        mine,
        inputs=[lot],
        outputs=[o],
        shipment={
            "to_site": {"id": refiner.site, "country": refiner.country},
            "destination_country": refiner.country,
            "document": f"BL-{o['lot'][:8]}",
            "to_owner": g.own(refiner),
        },
    )
    g.sc.unacknowledged_shipment = e["id"]
    nxt = g.out("cobalt_hydroxide", 1000.0, custody="identity_preserved")
    g.event("extraction", mine, outputs=[nxt], at=NEXT_EXTRACTION_AT)


def _waste_export_attempt(g: _Gen, batteries: Sequence[tuple[str, float]]) -> None:
    """:attr:`Scenario.refused_attempt`: two of the last round's batteries, still at the car maker,
    declared waste, collected and shipped to a buyer outside the OECD (made after the scenario's
    events, so they are unchanged; kept apart from them, as the shipper's node refuses the call)."""
    car = g.co("rhein-auto")
    first, lots = len(g.sc.events), g.sc.lots
    for bl in batteries:
        g.event("status_change", car, status={"lot": bl[0], "value": "waste"}, at=WASTE_EXPORT_AT)
    waste = g.out("waste_battery", 0.0)
    waste["quantity"] = {"value": len(batteries), "unit": "piece"}
    waste["mass_per_piece_kg"] = batteries[0][1]
    g.event("collection", car, inputs=batteries, outputs=[waste], at=WASTE_EXPORT_AT)
    o = g.out("waste_battery", 0.0)
    o["quantity"], o["mass_per_piece_kg"] = waste["quantity"], waste["mass_per_piece_kg"]
    e = g.event(
        "shipment",
        car,
        inputs=[(waste["lot"], sum(kg for _, kg in batteries))],
        outputs=[o],
        shipment={
            "to_site": dict(WASTE_EXPORT_TO),
            "destination_country": WASTE_EXPORT_TO["country"],
            "document": "BL-WB-NG-0001",
        },
        at=WASTE_EXPORT_AT,
    )
    g.sc.refused_attempt, g.sc.refused_shipment = g.sc.events[first:], e["id"]
    del g.sc.events[first:]
    g.sc.lots = lots


def _territory(country: str) -> str:
    return "EU" if country in EU27 else country


def iter_jsonl(sc: Scenario) -> Iterator[str]:
    import json

    for e in sc.events:
        yield json.dumps(e, separators=(",", ":"))
