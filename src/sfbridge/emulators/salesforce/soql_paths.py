"""Field paths of a SOQL query (``Account.Owner.Name``) resolved to SQL columns and joins.

The FROM object is table alias ``t0``; each child-to-parent relationship a
query names becomes one LEFT JOIN on the parent's Id (SOQL ref "Relationship
Queries": a missing parent reads as null, never drops the row).

Polymorphic relationships (``Task.Who``, ``Lead.Owner``: several
``referenceTo`` objects) resolve, as in a real org, to the ``Name`` entity:
only its fields (``Id``, ``Name``, ``Type``, ``Email`` ...) can follow the
relationship. The emulator LEFT JOINs every referenced object the org has
and takes the one whose Id matches, which is the record the key prefix
names. Nothing can be followed past a polymorphic relationship.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from sfbridge.salesforce.soql_parser import FieldPath, SoqlError

from .schema import FieldDef, ObjectDef, OrgSchema, field_describe
from .storage import quote_name

Readable = Callable[[str, str], bool]

# SOQL ref "Understanding Relationship Query Limitations".
MAX_RELATIONSHIP_DEPTH = 5

# The Name entity's fields (SOAP API Developer Guide, "Name").
_NAME_FIELDS = (
    ("Id", "id"),
    ("Name", "string"),
    ("FirstName", "string"),
    ("LastName", "string"),
    ("Alias", "string"),
    ("CommunityNickname", "string"),
    ("Email", "email"),
    ("Phone", "phone"),
    ("Title", "string"),
    ("Type", "string"),
    ("Username", "string"),
    ("IsActive", "boolean"),
    ("ProfileId", "reference"),
    ("UserRoleId", "reference"),
    ("RecordTypeId", "reference"),
    ("LastReferencedDate", "datetime"),
    ("LastViewedDate", "datetime"),
)


def _name_entity() -> ObjectDef:
    entity = ObjectDef(name="Name", key_prefix="", describe={"name": "Name", "queryable": False})
    for name, field_type in _NAME_FIELDS:
        entity.add_field(FieldDef(field_describe(name, field_type, custom=False)))
    return entity


NAME_ENTITY = _name_entity()


def sql_text(value: str) -> str:
    """A SQL string literal (for names and picklist values written into SQL)."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(eq=False)
class Relation:
    """One object in the query's join tree: the FROM object or a parent reached by a path.

    ``targets`` pairs each table with its SQL alias: one for an ordinary
    relationship, one per referenced object for a polymorphic one (``obj`` is
    then the Name entity).
    """

    obj: ObjectDef
    targets: tuple[tuple[ObjectDef, str], ...]
    key: str = ""
    parent: Relation | None = None
    reference_sql: str = ""
    children: dict[str, Relation] = field(default_factory=dict)

    @property
    def polymorphic(self) -> bool:
        """True when this is a polymorphic parent, seen as the Name entity."""
        return self.obj is NAME_ENTITY

    @property
    def depth(self) -> int:
        """How many relationships lead here from the FROM object."""
        return 0 if self.parent is None else self.parent.depth + 1

    def column(self, definition: FieldDef) -> str:
        """The SQL expression of one of this relation's fields."""
        if not self.polymorphic:
            return f"{quote_name(self.targets[0][1])}.{quote_name(definition.name)}"
        if definition.name == "Type":
            return self.type_sql() + " COLLATE NOCASE"
        present = [
            f"{quote_name(alias)}.{quote_name(definition.name)}"
            for target, alias in self.targets
            if (found := target.field(definition.name)) is not None and not found.is_compound
        ]
        if not present:
            return "NULL"
        # COALESCE drops the columns' NOCASE collation; text compares case-insensitively.
        collate = " COLLATE NOCASE" if definition.is_text else ""
        joined = present[0] if len(present) == 1 else f"COALESCE({', '.join(present)})"
        return joined + collate

    def id_sql(self) -> str:
        """SQL for the Id of this relation's record (null when there is none)."""
        id_field = self.obj.field("Id")
        assert id_field is not None
        return self.column(id_field)

    def type_sql(self) -> str:
        """SQL for the API name of the record's object."""
        if not self.polymorphic:
            return sql_text(self.obj.name)
        cases = " ".join(
            f'WHEN {quote_name(alias)}."Id" IS NOT NULL THEN {sql_text(target.name)}'
            for target, alias in self.targets
        )
        return f"(CASE {cases} END)"

    def joins(self) -> list[str]:
        """The LEFT JOIN clauses that bring this relation's tables in."""
        return [
            f"LEFT JOIN {quote_name(target.name)} AS {quote_name(alias)} "
            f'ON {quote_name(alias)}."Id" = {self.reference_sql}'
            for target, alias in self.targets
        ]


@dataclass(frozen=True)
class FieldRef:
    """A resolved field path: the relation that holds the field, and the field."""

    relation: Relation
    field: FieldDef
    path: FieldPath

    @property
    def sql(self) -> str:
        """The SQL value expression; booleans never null (SOQL semantics item 4)."""
        column = self.relation.column(self.field)
        if self.field.type == "boolean" and self.relation.parent is not None:
            return f"COALESCE({column}, 0)"
        return column

    @property
    def nullable(self) -> bool:
        """False when the value can never be null (booleans, the FROM object's Id)."""
        if self.field.type == "boolean":
            return False
        return not (self.relation.parent is None and self.field.type == "id")

    @property
    def through_relationship(self) -> bool:
        """True when the field belongs to a parent record, not the FROM object."""
        return self.relation.parent is not None

    @property
    def key(self) -> tuple[str, ...]:
        """Identity of the path for duplicate checks: relationship names and field, lower case."""
        names: list[str] = [self.field.name.lower()]
        relation: Relation | None = self.relation
        while relation is not None and relation.parent is not None:
            names.append(relation.key.lower())
            relation = relation.parent
        return tuple(reversed(names))


class PathResolver:
    """Resolves the field paths of one query and tracks the joins they need."""

    def __init__(
        self, schema: OrgSchema, root: ObjectDef, query_text: str, readable: Readable | None
    ) -> None:
        self.schema = schema
        self.text = query_text
        self.readable = readable
        self.root = Relation(root, ((root, "t0"),))
        self._relations: list[Relation] = [self.root]
        self._aliases = 1

    def resolve(self, path: FieldPath) -> FieldRef:
        """The field ``path`` names, or ``SoqlError`` INVALID_FIELD as Salesforce reports it."""
        parts = list(path.parts)
        relation = self.root
        # A path may start with the FROM object's own name: SELECT Contact.Name FROM Contact.
        own_name = len(parts) > 1 and parts[0].lower() == self.root.obj.name.lower()
        if own_name and self.root.obj.relationship(parts[0]) is None:
            parts = parts[1:]
        for part in parts[:-1]:
            relation = self._follow(relation, part, path)
        definition = relation.obj.field(parts[-1])
        if definition is None or not self._can_read(relation, definition):
            raise self._error(
                path,
                f"No such column '{parts[-1]}' on entity '{relation.obj.name}'. If you are "
                "attempting to use a custom field, be sure to append the '__c' after the custom "
                "field name. Please reference your WSDL or the describe call for the "
                "appropriate names.",
            )
        return FieldRef(relation, definition, path)

    def joins(self, relations: Iterable[Relation]) -> str:
        """JOIN clauses for ``relations`` and their ancestors, parents first."""
        needed: set[int] = set()
        for relation in relations:
            current: Relation | None = relation
            while current is not None and current.parent is not None:
                needed.add(id(current))
                current = current.parent
        clauses = [
            clause
            for relation in self._relations
            if id(relation) in needed
            for clause in relation.joins()
        ]
        return " ".join(clauses)

    def _follow(self, relation: Relation, name: str, path: FieldPath) -> Relation:
        known = relation.children.get(name.lower())
        if known is not None:
            return known
        reference = None if relation.polymorphic else relation.obj.relationship(name)
        targets = [
            target
            for target_name in (reference.reference_to if reference else [])
            if (target := self.schema.object(target_name)) is not None
        ]
        if reference is None or not targets or not self._can_read(relation, reference):
            raise self._error(
                path,
                f"Didn't understand relationship '{name}' in field path. If you are attempting "
                "to use a custom relationship, be sure to append the '__r' after the custom "
                "relationship name. Please reference your WSDL or the describe call for the "
                "appropriate names.",
            )
        if relation.depth >= MAX_RELATIONSHIP_DEPTH:
            raise SoqlError.at(
                self.text,
                path.row,
                path.column,
                "MALFORMED_QUERY",
                f"A field path can follow at most {MAX_RELATIONSHIP_DEPTH} relationships "
                f"(SOQL relationship query limits): {path.text}",
            )
        polymorphic = len(reference.reference_to) > 1 or reference.flag("polymorphicForeignKey")
        if not polymorphic:
            targets = targets[:1]
        aliases = tuple((target, f"t{self._aliases + i}") for i, target in enumerate(targets))
        self._aliases += len(aliases)
        child = Relation(
            obj=NAME_ENTITY if polymorphic else targets[0],
            targets=aliases,
            key=reference.relationship_name or name,
            parent=relation,
            reference_sql=relation.column(reference),
        )
        relation.children[name.lower()] = child
        self._relations.append(child)
        return child

    def _can_read(self, relation: Relation, definition: FieldDef) -> bool:
        # Field-level security hides a field completely (access.py); the Name
        # entity is a view over several objects and has no permissions of its own.
        if self.readable is None or relation.polymorphic:
            return True
        return self.readable(relation.obj.name, definition.name)

    def _error(self, path: FieldPath, text: str) -> SoqlError:
        return SoqlError.at(self.text, path.row, path.column, "INVALID_FIELD", text)
