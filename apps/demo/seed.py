"""The demo region: clearly synthetic organisations, staff and patients, built through the services.

One care provider (Region Demoland, organisationsnummer 232199-0000, fictional), two hospitals and
primary care with 20 care units, 50 staff with commissions and roles (the four in
`ACCOUNTS` can log in, with the fixed personnummer and employee HSA-ids the docs' examples use),
200 patients with valid synthetic personnummer and samordningsnummer, Tolvan Tolvansson
(19121212-1212) among them.
Everything is generated from a fixed seed, so two runs give the same people; `seed()` does nothing
when the region already exists (idempotent) and runs in one transaction (all or nothing).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from apps.authn import services as authn
from apps.commissions import services as commissions
from apps.commissions.models import Commission, Employee, Role
from apps.commissions.vocabularies import Purpose
from apps.consents import services as consents
from apps.core.actors import DEMO_DATA
from apps.demo import rules_client
from apps.identities import services as identities
from apps.identities.identifiers import make_person_number, parse_person_number
from apps.identities.models import Person, User
from apps.organisations.models import Organisation
from apps.organisations.services import organisation_create
from apps.rules import facts
from apps.rules import services as rules
from apps.rules.decision import AccessRequest

ACTOR = DEMO_DATA
REGION_HSA = "SE2321990000-0001"
DEMO_PASSWORD = "demo-portal-2026"

GIVEN = ["Anna", "Erik", "Maria", "Lars", "Karin", "Anders", "Eva", "Johan", "Sara", "Per", "Lena",
         "Mikael", "Emma", "Oskar", "Ingrid", "Nils", "Sofia", "Gustav", "Elin", "Hassan", "Amira",
         "Jonas", "Maja", "Ali", "Fatima", "Olle", "Linnea", "Viktor", "Alva", "Leo"]
FAMILY = ["Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson",
          "Persson", "Svensson", "Gustafsson", "Pettersson", "Jonsson", "Lindberg", "Lindqvist",
          "Berg", "Holm", "Ek", "Nyström", "Sandberg", "Demosson", "Testberg", "Provsson"]


@dataclass(frozen=True)
class DemoAccount:
    """A demo login printed by `make run`: username, who it is, what it shows (`description`, for
    the console), and the fixed identifiers the docs use in their examples: personnummer,
    employee HSA-id and title (data, so Swedish like the organisation names)."""

    username: str
    given: str
    family: str
    description: str
    person_number: str
    hsa_id: str
    title: str


ACCOUNTS = [
    DemoAccount("anna.admin", "Anna", "Administratör",
                "local administrator for all of Region Demoland",
                "19720903-2429", "SE2321990000-EADMIN01", "Lokal administratör"),
    DemoAccount("henrik.admin", "Henrik", "Sjukhusadmin",
                "local administrator for Norrby sjukhus only",
                "19681121-3575", "SE2321990000-EADMIN02", "Lokal administratör"),
    DemoAccount("ivar.issuer", "Ivar", "Utfärdare", "e-ID issuer for Region Demoland",
                "19840208-4282", "SE2321990000-EISSUE01", "ID-administratör"),
    DemoAccount("sara.staff", "Sara", "Sjuksköterska",
                "nurse at Kardiologiska kliniken, Demolands universitetssjukhus",
                "19800517-1015", "SE2321990000-E4K9T2QX", "Sjuksköterska"),
]

# Organisation names are data, so Swedish as in a real region's HSA directory.
HOSPITALS = {
    "Demolands universitetssjukhus": ["Kardiologiska kliniken", "Ortopedkliniken",
                                      "Akutmottagningen", "Onkologiska kliniken", "Barnkliniken",
                                      "Röntgenkliniken", "Intensivvårdsavdelningen",
                                      "Neurologiska kliniken"],
    "Norrby sjukhus": ["Medicinkliniken", "Kirurgkliniken", "Geriatriska kliniken",
                       "Psykiatriska kliniken", "Förlossningsavdelningen"],
}
PRIMARY_CARE = ["Vårdcentralen Centrum", "Vårdcentralen Norr", "Vårdcentralen Söder",
                "Vårdcentralen Öster", "Vårdcentralen Väster", "Barnavårdscentralen Demoland",
                "Ungdomsmottagningen Demoland"]


def already_loaded() -> bool:
    return Organisation.objects.filter(hsa_id=REGION_HSA).exists()


def _unit_hsa(n: int) -> str:
    return f"SE2321990000-{n:04d}"


def _build_tree() -> list[Organisation]:
    region = organisation_create(actor=ACTOR, hsa_id=REGION_HSA, name="Region Demoland",
                                 is_care_provider=True, org_number="232199-0000")
    units: list[Organisation] = []
    n = 100
    for hospital_name, unit_names in HOSPITALS.items():
        hospital = organisation_create(actor=ACTOR, hsa_id=_unit_hsa(n), name=hospital_name,
                                       parent=region)
        n += 1
        for name in unit_names:
            units.append(organisation_create(actor=ACTOR, hsa_id=_unit_hsa(n), name=name,
                                             parent=hospital, is_care_unit=True))
            n += 1
        n = (n // 100 + 1) * 100
    primary = organisation_create(actor=ACTOR, hsa_id=_unit_hsa(n), name="Primärvården Demoland",
                                  parent=region)
    for name in PRIMARY_CARE:
        n += 1
        units.append(organisation_create(actor=ACTOR, hsa_id=_unit_hsa(n), name=name,
                                         parent=primary, is_care_unit=True))
    return units


def _person(rng: random.Random, given: str, family: str, *, birth_range: tuple[int, int],
            coordination: bool = False, email: bool = True) -> Person:
    while True:
        birth = date(rng.randint(*birth_range), rng.randint(1, 12), rng.randint(1, 28))
        number = make_person_number(birth, rng.randint(0, 999), coordination=coordination)
        if not Person.objects.filter(identity_numbers__extension=number).exists():
            break
    return identities.person_create(
        actor=ACTOR, given_name=given, family_name=family, person_number=number,
        email=_email(given, family) if email else "",
    )


def _email(given: str, family: str) -> str:
    address = f"{given}.{family}".lower().translate(str.maketrans("åäöé", "aaoe"))
    return f"{address}@demoland.example"


def _staff(rng: random.Random, given: str, family: str, unit: Organisation, *, title: str
           ) -> Employee:
    """A staff member without a login account."""
    person = _person(rng, given, family, birth_range=(1960, 1998))
    return commissions.employee_create(actor=ACTOR, person=person, organisation=unit, title=title)


def _account(account: DemoAccount, unit: Organisation) -> Employee:
    """A demo login: the person with their fixed identifiers, a login account with password and
    TOTP, and an employee HSA-id at `unit`."""
    person = identities.person_create(
        actor=ACTOR, given_name=account.given, family_name=account.family,
        person_number=account.person_number,
        email=_email(account.given, account.family),
    )
    employee = commissions.employee_create(actor=ACTOR, person=person, organisation=unit,
                                           hsa_id=account.hsa_id, title=account.title)
    user = identities.user_create(actor=ACTOR, person=person, username=account.username,
                                  kind=User.Kind.STAFF, password=DEMO_PASSWORD)
    authn.totp_device_create(actor=ACTOR, user=user)
    return employee


#: Sara's two commissions have fixed HSA-ids, so the docs' examples of the rules service
#: (README, docs/authzen.md) can name them.
SARA_CARDIOLOGY_COMMISSION = "SE2321990000-USARAKARD"
SARA_EMERGENCY_COMMISSION = "SE2321990000-USARAAKUT"


def _care_commission(employee: Employee, unit: Organisation, rights: list[str],
                     hsa_id: str | None = None) -> Commission:
    return commissions.commission_grant(
        actor=ACTOR, employee=employee, care_unit=unit, purpose=Purpose.CARE, rights=rights,
        valid_from=timezone.now() - timedelta(days=30), valid_until=None, hsa_id=hsa_id,
    )


#: A private care provider beside the region (another organisationsnummer, so another care
#: provider, PDL 2008:355 1 kap. 3 §): its information reaches the region's staff only through
#: coherent record keeping (docs/rules.md).
PRIVATE_PROVIDER_HSA = "SE5566778808-0001"
PRIVATE_UNIT_HSA = "SE5566778808-0002"


def _build_private_provider() -> Organisation:
    provider = organisation_create(actor=ACTOR, hsa_id=PRIVATE_PROVIDER_HSA,
                                   name="Husläkarna Demoland AB", is_care_provider=True,
                                   org_number="556677-8808")
    return organisation_create(actor=ACTOR, hsa_id=PRIVATE_UNIT_HSA, name="Husläkarna Centrum",
                               parent=provider, is_care_unit=True)


def seed() -> bool:
    """Load the demo region unless it exists. Returns True when it loaded it."""
    if already_loaded():
        return False
    rng = random.Random(2026)
    with transaction.atomic():
        units = _build_tree()
        private_unit = _build_private_provider()
        region = Organisation.objects.get(hsa_id=REGION_HSA)
        norrby = Organisation.objects.get(name="Norrby sjukhus")
        cardiology = next(u for u in units if u.name == "Kardiologiska kliniken")
        now = timezone.now()

        named = {}
        for account in ACCOUNTS:
            home = cardiology if account.username == "sara.staff" else (
                norrby if account.username == "henrik.admin" else region)
            named[account.username] = _account(account, home)
        for username, role, org in [("anna.admin", Role.LOCAL_ADMIN, region),
                                    ("henrik.admin", Role.LOCAL_ADMIN, norrby),
                                    ("ivar.issuer", Role.ISSUER, region),
                                    # Approves the e-service clients the administrators register.
                                    ("ivar.issuer", Role.FEDERATION_OPERATOR, region)]:
            commissions.role_grant(actor=ACTOR, person=named[username].person, role=role,
                                   organisation=org, valid_from=now - timedelta(days=90),
                                   valid_until=None)
        sara_cardiology = _care_commission(
            named["sara.staff"], cardiology, ["Läsa;alla;VE", "Skriva;alla;VE", "Läsa;alla;SJF"],
            hsa_id=SARA_CARDIOLOGY_COMMISSION)
        # Sara also takes shifts at the emergency department: after login she chooses which of
        # her two commissions to act under (uppdragsval).
        sara_emergency = _care_commission(
            named["sara.staff"], next(u for u in units if u.name == "Akutmottagningen"),
            ["Läsa;alla;VE", "Skriva;alla;VE", "Läsa;alla;VG"], hsa_id=SARA_EMERGENCY_COMMISSION)

        titles = ["Sjuksköterska", "Läkare", "Undersköterska", "Fysioterapeut", "Barnmorska"]
        for i in range(50 - len(ACCOUNTS)):
            unit = units[i % len(units)]
            given, family = rng.choice(GIVEN), rng.choice(FAMILY)
            employee = _staff(rng, given, family, unit, title=rng.choice(titles))
            _care_commission(employee, unit, ["Läsa;alla;VE", "Skriva;alla;VE"])
            if i % 7 == 0:  # some work at a second unit, a few with an ended commission
                second = units[(i + 5) % len(units)]
                _care_commission(employee, second, ["Läsa;alla;VE"])
            if i % 10 == 0:
                commissions.role_grant(actor=ACTOR, person=employee.person, role=Role.ISSUER,
                                       organisation=unit, valid_from=now - timedelta(days=10),
                                       valid_until=now + timedelta(days=355))

        tolvan = identities.person_create(actor=ACTOR, given_name="Tolvan",
                                          family_name="Tolvansson",
                                          person_number="19121212-1212")
        patients = [tolvan]
        for i in range(199):
            patients.append(_person(rng, rng.choice(GIVEN), rng.choice(FAMILY),
                                    birth_range=(1925, 2024), coordination=i % 20 == 0,
                                    email=False))
        for person in patients:
            identities.user_create(actor=ACTOR, person=person,
                                   username=f"patient-{person.person_number.replace('-', '')}",
                                   kind=User.Kind.PATIENT)
        _consents(rng, patients, units, named["sara.staff"], now)
        # A doctor at the private care provider, who reads the region's information through
        # coherent record keeping (SJF) with the patient's consent.
        doctor = _staff(random.Random(2027), "Petra", "Provsson", private_unit, title="Läkare")
        _care_commission(doctor, private_unit, ["Läsa;alla;VE", "Skriva;alla;VE", "Läsa;alla;SJF"])
        _decisions(sara_cardiology, sara_emergency, patients, cardiology, private_unit)
    return True


#: The record system the demo's earlier decisions were asked through: the name of the demo record
#: system `rules_client` registers (its client id is made at registration, after these rows).
DEMO_RECORD_SYSTEM = ("demo-record-system", rules_client.NAME)


def _decide(commission: Commission, patient: Person, owner: Organisation, *,
            information_type: str = "alla", activity: str = "Läsa", reason: str = "") -> None:
    """`commission`'s holder asks the rules service, through the demo record system, to take
    `activity` on `patient`'s information owned by the care unit `owner` (emergency access with
    `reason`)."""
    actor = facts.acting_staff(client_id=DEMO_RECORD_SYSTEM[0], client_label=DEMO_RECORD_SYSTEM[1],
                               client_care_provider_id=commission.care_provider_id,
                               employee_hsa_id=commission.employee.hsa_id,
                               commission_hsa_id=commission.hsa_id)
    assert owner.care_provider is not None
    rules.access_decide(actor=actor, request=AccessRequest(
        patient=parse_person_number(patient.person_number),
        care_provider_hsa_id=owner.care_provider.hsa_id, care_unit_hsa_id=owner.hsa_id,
        information_type=information_type, activity=activity, purpose=Purpose.CARE,
        when=timezone.now(), care_relationship=True, emergency=bool(reason),
        emergency_reason=reason))


def _decisions(sara_cardiology: Commission, sara_emergency: Commission, patients: list[Person],
               cardiology: Organisation, private_unit: Organisation) -> None:
    """Sara's reads: Tolvan's log extract shows them (one at the emergency department); a read
    of the private care provider's records under her emergency department commission (no right
    for it) is denied and stays out of the extract; two emergency openings of other patients'
    records at the private care provider wait for follow-up (journey-emergency-follow-up.md)."""
    tolvan = patients[0]
    _decide(sara_cardiology, tolvan, cardiology)
    _decide(sara_cardiology, tolvan, cardiology, information_type="lak", activity="Skriva")
    _decide(sara_emergency, tolvan, cardiology, information_type="lak")
    _decide(sara_emergency, tolvan, private_unit)
    _decide(sara_cardiology, patients[1], private_unit,
            reason="Medvetslös vid ankomst; läkemedelslistan från husläkaren behövs.")
    _decide(sara_cardiology, patients[2], private_unit, information_type="upp",
            reason="Akut bröstsmärta, kan inte svara; uppmärksamhetsinformation behövs.")


def _consents(rng: random.Random, patients: list[Person], units: list[Organisation],
              nurse: Employee, now: datetime) -> None:
    """Tolvan has an active, an expired and a withdrawn consent and one emergency access;
    every fifth other patient has a consent somewhere."""
    cardiology = nurse.organisation
    tolvan = patients[0]
    consents.consent_give(actor=ACTOR, patient=tolvan, care_unit=cardiology,
                          valid_from=now - timedelta(days=20), valid_until=None)
    consents.consent_give(actor=ACTOR, patient=tolvan, care_unit=units[1],
                          valid_from=now - timedelta(days=400),
                          valid_until=now - timedelta(days=35))
    withdrawn = consents.consent_give(actor=ACTOR, patient=tolvan, care_unit=units[-1],
                                      valid_from=now - timedelta(days=90), valid_until=None)
    consents.consent_withdraw(actor=ACTOR, consent=withdrawn)
    consents.emergency_access_register(
        actor=ACTOR, patient=tolvan, care_unit=cardiology, employee=nurse,
        reason="Medvetslös vid ankomst; läkemedelslistan behövs.",
        valid_until=now + timedelta(hours=12),
    )
    for person in patients[5::5]:
        consents.consent_give(actor=ACTOR, patient=person, care_unit=rng.choice(units),
                              valid_from=now - timedelta(days=rng.randint(1, 300)),
                              valid_until=None)
