"""The ``plant`` data target of ``/api/v1/authInfo``: an operator's plants, and the admin's way to
add one.

Rules (published ``PlantModel``): ``openPlantId`` ends in 6 digits and, like ``globalPlantId``,
is unique per operator; an operator writes only its own plants.
"""

from __future__ import annotations

from dataclasses import replace

from batpass.core.errors import Conflict, InvalidInput
from batpass.core.ids import OuranosPlantId
from batpass.ouranos._context import HubComponent, Principal, check_text, new_id, operator_or_404
from batpass.ouranos.errors import AccessDenied, NotYourData
from batpass.ouranos.model import Plant
from batpass.store import UnitOfWork


class Plants(HubComponent):
    """Operators' plants (parts are registered per plant)."""

    def add_plant(
        self,
        operator_id: str,
        *,
        open_plant_id: str,
        plant_name: str,
        plant_address: str,
        global_plant_id: str | None = None,
        plant_id: str | None = None,
    ) -> Plant:
        return self.put_plant(
            operator_id,
            Plant(plant_id or "", operator_id, open_plant_id, plant_name, plant_address, global_plant_id),
            create_with_id=plant_id,
        )

    def list_plants(self, who: Principal) -> list[Plant]:
        with UnitOfWork(self.engine, write=False) as uow:
            return self.store(uow).plants(who.operator_id)

    def put_plant(self, operator_id: str | Principal, plant: Plant, *, create_with_id: str | None = None) -> Plant:
        """``PUT authInfo?dataTarget=plant``: openPlantId ends in 6 digits and is unique per operator."""
        me = operator_id.operator_id if isinstance(operator_id, Principal) else operator_id
        if plant.operator_id != me:
            raise AccessDenied("operatorId differs from the authenticated operator", rule="PlantModel.operatorId")
        OuranosPlantId(plant.open_plant_id)
        check_text(plant.plant_name, "plantName", 1, 256)
        check_text(plant.plant_address, "plantAddress", 1, 256)
        with UnitOfWork(self.engine) as uow:
            store = self.store(uow)
            operator_or_404(store, me)
            existing = store.plants(me)
            new = not plant.plant_id or create_with_id is not None
            if new:
                plant = replace(plant, plant_id=create_with_id or new_id())
                if create_with_id and store.plant(me, create_with_id) is not None:
                    raise Conflict(f"plant {create_with_id} exists", rule="unique plantId")
            elif store.plant(me, plant.plant_id) is None:
                raise NotYourData(f"plantId {plant.plant_id} is not one of your plants", rule="your plants only")
            for other in existing:
                if other.plant_id == plant.plant_id:
                    continue
                if other.open_plant_id == plant.open_plant_id:
                    raise InvalidInput(
                        f"openPlantId: {plant.open_plant_id} is already exists.",
                        field="openPlantId",
                        rule="unique per operator",
                    )
                if plant.global_plant_id is not None and other.global_plant_id == plant.global_plant_id:
                    raise InvalidInput(
                        f"globalPlantId: {plant.global_plant_id} is already exists.",
                        field="plantAttribute.globalPlantId",
                        rule="unique per operator",
                    )
            store.save_plant(plant, new=new)
            uow.commit()
            return plant
