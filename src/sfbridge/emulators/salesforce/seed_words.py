"""Word lists and place tables the seeder draws from: names, companies, cities, picklist weights.

Kept apart from the generators (``seed_people``, ``seed_sales``) so their logic reads on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple, TypeVar

T = TypeVar("T")


def _words(text: str) -> tuple[str, ...]:
    return tuple(word.strip() for word in text.split(",") if word.strip())


def _table(text: str) -> list[list[str]]:
    return [[cell.strip() for cell in line.split("|")] for line in text.strip().splitlines()]


FIRST_NAMES = _words(
    """James, Mary, John, Patricia, Robert, Jennifer, Michael, Linda, William, Elizabeth,
    David, Barbara, Richard, Susan, Joseph, Jessica, Thomas, Sarah, Charles, Karen, Daniel,
    Nancy, Matthew, Lisa, Anthony, Betty, Mark, Margaret, Steven, Sandra, Paul, Ashley, Andrew,
    Emily, Joshua, Michelle, Kevin, Amanda, Brian, Melissa, George, Stephanie, Edward, Rebecca,
    Ryan, Laura, Jacob, Sharon, Gary, Cynthia, Nicholas, Kathleen, Eric, Amy, Jonathan, Angela,
    Justin, Anna, Scott, Olivia, Brandon, Emma, Benjamin, Sophia, Samuel, Grace, Alexander,
    Chloe, Noah, Mia, Liam, Ava, Ethan, Isabella, Lucas, Charlotte, Mateo, Camila, Diego,
    Valentina, Carlos, Lucía, José, María, Javier, Sofía, Andrés, Inés, Raúl, Ana, Pablo,
    Martina, François, Chloé, Hélène, Léa, Théo, Zoë, Renée, Noémie, Jérôme, Amélie, Björn,
    Søren, Åsa, Jürgen, Lukas, Lena, Felix, Hannah, Leon, Marie, Matthias, Katrin, Łukasz,
    Agnieszka, Piotr, Zofia, Siobhán, Seán, Aoife, Niamh, Ciarán, Oisín, Giulia, Marco,
    Francesca, Alessandro, Chiara, Luca, Wei, Mei, Hiroshi, Yuki, Haruto, Sakura, Min-jun,
    Ji-woo, Arjun, Priya, Rahul, Ananya, Vikram, Deepika, Aarav, Kavya, Mohammed, Fatima,
    Omar, Layla, Yusuf, Amira, Chidi, Ngozi, Kwame, Ama, Thabo, Zanele, Olga, Dmitri, Ivan,
    Anastasia, Noa, Eitan, Tamar, Ari, Leilani, Kai, Ingrid, Lars, Astrid, Mikael"""
)

LAST_NAMES = _words(
    """Smith, Johnson, Williams, Brown, Jones, García, Miller, Davis, Rodríguez, Martínez,
    Hernández, López, González, Wilson, Anderson, Thomas, Taylor, Moore, Jackson, Martin, Lee,
    Pérez, Thompson, White, Harris, Sánchez, Clark, Ramírez, Lewis, Robinson, Walker, Young,
    Allen, King, Wright, Scott, Torres, Nguyen, Hill, Flores, Green, Adams, Nelson, Baker,
    Hall, Rivera, Campbell, Mitchell, Carter, Roberts, Phillips, Evans, Turner, Parker, Collins,
    Edwards, Stewart, Morris, Murphy, Cook, Rogers, Morgan, Cooper, Peterson, Reed, Bailey,
    Bell, Gómez, Kelly, Howard, Ward, Cox, Díaz, Richardson, Wood, Watson, Brooks, Bennett,
    Gray, James, Reyes, Cruz, Hughes, Price, Myers, Long, Foster, Sanders, Ross, Morales,
    Powell, Sullivan, Russell, Ortiz, Jenkins, Gutiérrez, Perry, Butler, Barnes, Fisher,
    O'Brien, O'Connor, O'Neill, O'Sullivan, O'Reilly, D'Angelo, D'Souza, McDonald, MacLeod,
    McCarthy, Müller, Schmidt, Schneider, Fischer, Weber, Meyer, Wagner, Becker, Schäfer, Koch,
    Dubois, Lefèvre, Moreau, Laurent, Girard, Fontaine, Rossi, Russo, Ferrari, Esposito,
    Bianchi, Romano, Colombo, Ricci, Kowalski, Wiśniewski, Nowak, Lewandowski, Novák, Jensen,
    Nielsen, Hansen, Pedersen, Johansson, Karlsson, Nilsson, Eriksson, Ødegaard, Virtanen,
    Korhonen, Ivanov, Petrov, Kim, Park, Choi, Chen, Wang, Li, Zhang, Liu, Yamamoto, Tanaka,
    Suzuki, Watanabe, Satō, Patel, Shah, Singh, Kumar, Gupta, Sharma, Iyer, Reddy, Silva,
    Santos, Oliveira, Souza, Pereira, Costa, Almeida, Ferreira, Gonçalves, Cohen, Levi,
    Friedman, Haddad, Khalil, Mansour, Okafor, Adeyemi, Mensah, Nkosi, van der Berg, de Vries,
    van Dijk, Janssen, Bakker, Visser, St. James, Fitzgerald, Byrne, Walsh, Gallagher, Núñez"""
)

TITLES = (
    *_words(
        """CEO, CFO, CTO, COO, Chief Revenue Officer, VP of Sales, VP Marketing, VP Engineering,
        Director of Operations, Director of IT, Marketing Manager, Sales Manager,
        Account Manager, Regional Sales Manager, Software Engineer, Senior Software Engineer,
        Data Analyst, Data Engineer, Product Manager, Procurement Specialist, Purchasing Manager,
        HR Director, Office Manager, Customer Success Manager, IT Manager, Head of Growth,
        Controller, Marketing Coordinator, Operations Analyst, Buyer, Founder, Partner"""
    ),
    "SVP, Administration and Finance",
    "Director, Customer Experience",
)

DEPARTMENTS = _words(
    """Sales, Marketing, Finance, Engineering, Operations, IT, Human Resources, Procurement,
    Customer Success, Legal, Executive, Product"""
)

COMPANY_HEADS = _words(
    """Acme, Apex, Blue Ridge, Northwind, Summit, Granite, Pinnacle, Silverline, Evergreen,
    Redwood, Brightwave, Crescent, Horizon, Ironclad, Keystone, Lakeshore, Meridian, Nimbus,
    Oakridge, Pioneer, Quantum, Riverbend, Sapphire, Starlight, Tidewater, Unity, Vanguard,
    Westfield, Zenith, Atlas, Beacon, Cascade, Coastal, Copperleaf, Driftwood, Eastgate,
    Falcon, Foxglove, Golden Gate, Harbor, Highland, Juniper, Kestrel, Lighthouse, Maple,
    Monarch, Northstar, Orchid, Parkway, Prairie, Radiant, Sequoia, Skyline, Stonebridge,
    Sunrise, Trinity, Valley, Willow, Yellowstone, Aurora, Bluebird, Cobalt, Delta, Ember,
    Frontier, Global, Hudson, Insight, Jade, Liberty, Crème de la Crème, Société Générale des,
    Müller & Söhne, O'Malley's, Brasserie Léon, Nordlys, Fjällräven, Sakura, Lotus, Saffron"""
)

COMPANY_TAILS = _words(
    """Logistics, Analytics, Foods, Health, Systems, Labs, Partners, Manufacturing, Energy,
    Solutions, Technologies, Consulting, Media, Capital, Holdings, Networks, Software,
    Robotics, Pharmaceuticals, Apparel, Outfitters, Construction, Engineering, Biotech,
    Hospitality, Insurance, Realty, Telecom, Motors, Aerospace, Design, Brewing, Dynamics,
    Ventures, Supply, Retail, Interactive, Learning, Clinics, Marine"""
)

COMPANY_SUFFIXES = ("", "", "", "Inc.", "LLC", "Ltd", "Group", "Corp.", "Co.", "& Co.")
FREE_MAIL = _words(
    """gmail.com, gmail.com, yahoo.com, outlook.com, hotmail.com, icloud.com, proton.me,
    gmx.de, aol.com"""
)


class Country(NamedTuple):
    name: str
    variants: tuple[str, ...]  # other spellings seen in hand-typed addresses
    tld: str
    dial: str
    style: str  # where the house number goes
    streets: tuple[str, ...]


class City(NamedTuple):
    name: str
    state: str | None
    postal: str
    country: str
    area: str
    latitude: float
    longitude: float


COUNTRIES = {
    code: Country(name, _words(variants), tld, dial, style, _words(streets))
    for code, name, variants, tld, dial, style, streets in _table(
        """
US | United States | USA, US | com | 1 | number-first | Main St, Market St, Oak Ave, Broadway
CA | Canada | | ca | 1 | number-first | Yonge Street, Rue Sainte-Catherine, Granville Street
GB | United Kingdom | UK | co.uk | 44 | number-first | High Street, Baker Street, King's Road
IE | Ireland | | ie | 353 | number-first | Grafton Street, O'Connell Street, Patrick Street
DE | Germany | Deutschland | de | 49 | name-first | Hauptstraße, Bahnhofstraße, Königsallee
FR | France | | fr | 33 | number-first | rue de Rivoli, avenue des Champs-Élysées
ES | Spain | España | es | 34 | name-number | Calle Mayor, Gran Vía, Paseo de Gracia
IT | Italy | | it | 39 | name-number | Via Roma, Corso Buenos Aires, Via del Corso
NL | Netherlands | | nl | 31 | name-first | Kalverstraat, Herengracht, Coolsingel
SE | Sweden | | se | 46 | name-first | Drottninggatan, Kungsgatan, Storgatan
AU | Australia | | com.au | 61 | number-first | George Street, Collins Street, Queen Street
JP | Japan | | co.jp | 81 | number-first | Chuo-dori, Omotesando, Meiji-dori
BR | Brazil | Brasil | com.br | 55 | name-number | Avenida Paulista, Rua Oscar Freire
IN | India | | in | 91 | number-first | MG Road, Brigade Road, Linking Road
MX | Mexico | México | com.mx | 52 | name-number | Paseo de la Reforma, Avenida Insurgentes
"""
    )
}
# Countries whose postal codes are plain numbers: seeded codes vary around the city's.
NUMERIC_POSTAL = frozenset({"US", "DE", "FR", "ES", "IT", "AU", "MX"})

# city | state (- for none) | postal code | country | area code | latitude | longitude | weight
CITY_ROWS = _table(
    """
San Francisco | CA | 94102 | US | 415 | 37.7749 | -122.4194 | 6
New York | NY | 10001 | US | 212 | 40.7128 | -74.0060 | 8
Chicago | IL | 60601 | US | 312 | 41.8781 | -87.6298 | 5
Austin | TX | 78701 | US | 512 | 30.2672 | -97.7431 | 4
Seattle | WA | 98101 | US | 206 | 47.6062 | -122.3321 | 4
Boston | MA | 02108 | US | 617 | 42.3601 | -71.0589 | 4
Atlanta | GA | 30303 | US | 404 | 33.7490 | -84.3880 | 3
Denver | CO | 80202 | US | 303 | 39.7392 | -104.9903 | 3
Miami | FL | 33130 | US | 305 | 25.7617 | -80.1918 | 3
Los Angeles | CA | 90012 | US | 213 | 34.0522 | -118.2437 | 5
Dallas | TX | 75201 | US | 214 | 32.7767 | -96.7970 | 3
Minneapolis | MN | 55401 | US | 612 | 44.9778 | -93.2650 | 2
Toronto | ON | M5V 2T6 | CA | 416 | 43.6532 | -79.3832 | 3
Montréal | QC | H3B 4W8 | CA | 514 | 45.5017 | -73.5673 | 2
Vancouver | BC | V6B 1A1 | CA | 604 | 49.2827 | -123.1207 | 2
London | - | EC2A 4BX | GB | 20 | 51.5074 | -0.1278 | 5
Manchester | - | M1 1AE | GB | 161 | 53.4808 | -2.2426 | 2
Dublin | - | D02 X285 | IE | 1 | 53.3498 | -6.2603 | 2
Berlin | Berlin | 10115 | DE | 30 | 52.5200 | 13.4050 | 3
München | Bayern | 80331 | DE | 89 | 48.1351 | 11.5820 | 2
Düsseldorf | Nordrhein-Westfalen | 40210 | DE | 211 | 51.2277 | 6.7735 | 1
Paris | - | 75001 | FR | 1 | 48.8566 | 2.3522 | 3
Lyon | - | 69001 | FR | 4 | 45.7640 | 4.8357 | 1
Madrid | Madrid | 28001 | ES | 91 | 40.4168 | -3.7038 | 2
Barcelona | Cataluña | 08001 | ES | 93 | 41.3874 | 2.1686 | 2
Milano | MI | 20121 | IT | 02 | 45.4642 | 9.1900 | 2
Amsterdam | - | 1012 JS | NL | 20 | 52.3676 | 4.9041 | 2
Stockholm | - | 111 51 | SE | 8 | 59.3293 | 18.0686 | 1
Sydney | NSW | 2000 | AU | 2 | -33.8688 | 151.2093 | 2
Melbourne | VIC | 3000 | AU | 3 | -37.8136 | 144.9631 | 1
Tōkyō | Tokyo | 100-0005 | JP | 3 | 35.6762 | 139.6503 | 2
São Paulo | SP | 01310-100 | BR | 11 | -23.5505 | -46.6333 | 2
Bengaluru | Karnataka | 560001 | IN | 80 | 12.9716 | 77.5946 | 2
Mumbai | Maharashtra | 400001 | IN | 22 | 19.0760 | 72.8777 | 1
Ciudad de México | CDMX | 06600 | MX | 55 | 19.4326 | -99.1332 | 1
"""
)
CITIES = tuple(
    City(name, None if state == "-" else state, postal, country, area, float(lat), float(lon))
    for name, state, postal, country, area, lat, lon, _ in CITY_ROWS
)
# A city drawn uniformly from this table is drawn with the weights above.
CITY_DRAW = tuple(CITIES[i] for i, row in enumerate(CITY_ROWS) for _ in range(int(row[-1])))

DEALS = _words(
    """New Business, Renewal, Expansion, Add-on Licenses, Upgrade, Professional Services,
    Pilot, Enterprise Agreement, Support Contract, Q4 Order, Multi-year Deal"""
)
NEXT_STEPS = _words(
    "Send proposal, Schedule demo, Follow up with legal, Confirm budget, Security review"
)
CASE_SUBJECTS = (
    "Cannot log in to the customer portal",
    "Invoice amount does not match the quote",
    "Shipment delayed",
    "Feature request: export to CSV",
    "Password reset email not received",
    "Integration sync failing with timeout",
    "Billing address update",
    "Product arrived damaged",
    "Question about renewal pricing",
    "API returns 500 on bulk upload",
    "Need to add users to our plan",
    "Report shows wrong totals",
    'Error "INVALID_SESSION_ID" after SSO change',
    "Facture en double / duplicate invoice",
)
# subject, Type, TaskSubtype
TASK_KINDS = (
    ("Call", "Call", "Call"),
    ("Email", "Email", "Email"),
    ("Send Letter", "Other", "Task"),
    ("Send Quote", "Other", "Task"),
    ("Follow-up call", "Call", "Call"),
    ("Intro meeting", "Meeting", "Task"),
    ("Product demo", "Meeting", "Task"),
    ("Email: pricing question", "Email", "Email"),
    ("Check in after onboarding", "Call", "Call"),
    ("Prepare renewal proposal", "Other", "Task"),
)
CAMPAIGN_TOPICS = _words(
    """Modern Data Pipelines, Customer 360, Spring Product Launch, Partner Summit,
    Holiday Promotion, Security Best Practices, Analytics for Retail, Win-back Offer,
    Developer Meetup, Executive Roundtable, Onboarding Nurture, Annual User Conference"""
)
# Free text with the characters that break naive CSV and JSON handling.
NOTES = (
    None,
    None,
    None,
    None,
    'Key account; "strategic" partner since 2019.\nRenewal usually in Q4, finance owns budget.',
    "Prefers email over phone, cc the assistant on quotes.",
    "Met at the Partner Summit — interested in the analytics add-on 📈",
    "Imported from the old CRM (2019); some fields may be incomplete",
)


def weighted(pairs: Sequence[tuple[T, int]]) -> tuple[T, ...]:
    """A table that a uniform draw picks from with the given weights."""
    return tuple(value for value, weight in pairs for _ in range(weight))


ACCOUNT_TYPES = weighted(
    [
        ("Customer - Direct", 38),
        ("Prospect", 34),
        ("Customer - Channel", 8),
        ("Channel Partner / Reseller", 6),
        ("Technology Partner", 4),
        ("Installation Partner", 3),
        ("Other", 3),
        (None, 4),
    ]
)
OPEN_STAGE_WEIGHTS = (14, 12, 11, 10, 8, 7, 9, 6)  # Prospecting … Negotiation/Review
CASE_STATUSES = weighted([("New", 14), ("Working", 18), ("Escalated", 6), ("Closed", 62)])
CASE_PRIORITIES = weighted([("High", 20), ("Medium", 55), ("Low", 25)])
TASK_PRIORITIES = weighted([("High", 15), ("Normal", 70), ("Low", 15)])
OPEN_TASK_STATUSES = weighted(
    [("Not Started", 50), ("In Progress", 30), ("Waiting on someone else", 12), ("Deferred", 8)]
)
OPEN_LEAD_STATUSES = weighted(
    [("Open - Not Contacted", 45), ("Working - Contacted", 35), ("Closed - Not Converted", 20)]
)
USER_ZONES = (
    ("America/Los_Angeles", "en_US"),
    ("America/New_York", "en_US"),
    ("America/Chicago", "en_US"),
    ("Europe/London", "en_GB"),
    ("Europe/Berlin", "de_DE"),
    ("Europe/Paris", "fr_FR"),
    ("Australia/Sydney", "en_AU"),
)
USER_TITLES = (
    "Sales Manager",
    "Account Executive",
    "Account Executive",
    "Sales Development Representative",
    "Account Executive",
    "Customer Success Manager",
    "Support Engineer",
)
FOLD = str.maketrans({"ø": "o", "Ø": "O", "ł": "l", "Ł": "L", "ß": "ss", "æ": "ae", "đ": "d"})
