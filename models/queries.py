"""Small lookups shared by the entry points and the flows."""

from sqlmodel import Session, select

from models.plan import Plan


class NotFound(LookupError):
    """What was asked for is not in the database."""


def get_plan(session: Session, key: str | None = None) -> Plan:
    """The plan with this key, or the only plan when no key is given."""
    if key:
        plan = session.exec(select(Plan).where(Plan.key == key)).first()
        if plan is None:
            keys = ", ".join(session.exec(select(Plan.key)).all()) or "none imported yet"
            raise NotFound(f"no plan with key {key!r} (plans: {keys})")
        return plan
    plans = session.exec(select(Plan).order_by(Plan.key)).all()
    if not plans:
        raise NotFound("no plan in the database yet: run `followup import PATH` first")
    if len(plans) > 1:
        keys = ", ".join(p.key for p in plans)
        raise NotFound(f"there are several plans ({keys}): name one with --plan")
    return plans[0]


def link_keys(
    session: Session, model, owner_col: str, other_col: str, owner_ids: list[int], key_of: dict
) -> dict[int, list]:
    """For a link table: owner id -> the linked rows' file keys, in their stored order."""
    if not owner_ids:
        return {}
    query = select(model).where(getattr(model, owner_col).in_(owner_ids))
    if "position" in model.model_fields:
        query = query.order_by(model.position)
    links: dict[int, list] = {}
    for link in session.exec(query).all():
        links.setdefault(getattr(link, owner_col), []).append(key_of[getattr(link, other_col)])
    return links
