"""Word lists for the synthetic receipt generator: merchants, places, goods and footers.

Malaysian names and addresses dominate (SROIE's receipts are from Malaysia); a minority of
"international" merchants (US/UK style addresses, "$" amounts) keeps models from overfitting
to Malaysian spelling alone.
"""

from __future__ import annotations

# The lists stay compact: a formatter would give every word its own line.
# fmt: off
# Merchant "kinds": each picks its own name words and goods, so a receipt reads consistently.
KINDS: tuple[str, ...] = ("grocery", "hardware", "restaurant", "stationery", "pharmacy", "bakery")
NAME_ROOTS: tuple[str, ...] = (
    "ABC", "GIN KEE", "SAM SAM", "HONG SENG", "KIM HIN", "TAN CHAY", "LIAN HUAT", "SOON LEE", "AIK CHEONG",
    "YEW HUAT", "MUTIARA", "BINTANG", "SRI MUDA", "CAHAYA", "MAJU JAYA", "SENTOSA", "SYL", "UNIHAKKA",
    "PERNIAGAAN ZHENG HUI", "GOLDEN KEY", "EVERRISE", "LIGHTROOM", "OJC", "MY HAPPY", "RESTORAN WAN SHENG",
    "WAH LEE", "CHOP YEW LIAN", "BOOK TA .K", "TEO HENG", "KAI YUAN", "HOCK SOON", "NEW WOON", "AMANAH",
    "SINAR", "PUTRA", "MEGAH", "SEGAR",
)
KIND_WORDS: dict[str, tuple[str, ...]] = {
    "grocery": ("KEDAI RUNCIT", "MINI MARKET", "SUPERMARKET", "TRADING", "MART", "STORE"),
    "hardware": ("HARDWARE", "TRADING", "BUILDING MATERIAL", "ELECTRICAL", "ENTERPRISE"),
    "restaurant": ("RESTORAN", "RESTAURANT", "CAFE", "KOPITIAM", "FOOD COURT", "DELIGHTS"),
    "stationery": ("STATIONERY", "BOOK STORE", "PRINTING", "OFFICE SUPPLIES"),
    "pharmacy": ("PHARMACY", "FARMASI", "HEALTHCARE", "MEDICAL SUPPLIES"),
    "bakery": ("BAKERY", "CONFECTIONERY", "CAKE HOUSE", "BAKEHOUSE"),
}
# Company suffixes exactly as printed; SROIE keys keep them ("SDN BHD", "S/B", "(M) SDN BHD").
MY_SUFFIXES: tuple[str, ...] = (
    "SDN BHD", "SDN. BHD.", "S/B", "(M) SDN BHD", "ENTERPRISE", "TRADING", "BHD", "& CO", "SDN BHD",
    "SDN BHD", "",
)
# Whole chain names that SROIE-style receipts repeat often.
CHAINS: tuple[str, ...] = (
    "99 SPEEDMART S/B", "MR. D.I.Y. (M) SDN BHD", "AEON CO. (M) BHD", "GARDENIA BAKERIES (KL) SDN BHD",
    "POPULAR BOOK CO. (M) SDN BHD", "GUARDIAN HEALTH AND BEAUTY SDN BHD", "TESCO STORES (MALAYSIA) SDN BHD",
    "NANDO'S CHICKENLAND MALAYSIA SDN BHD", "KFC HOLDINGS (MALAYSIA) BHD", "ECO-SHOP MARKETING SDN BHD",
)
INTL_ROOTS: tuple[str, ...] = (
    "GREEN LEAF", "CORNER", "BLUE OAK", "MAPLE", "SUNRISE", "HARBOR", "NORTHSIDE", "RIVERSIDE",
    "GOLDEN GATE", "LIBERTY", "PARKVIEW", "WESTEND",
)
INTL_SUFFIXES: tuple[str, ...] = ("LLC", "INC.", "LTD", "CO.", "& SONS", "")
# Street forms: "{no}, JALAN {street} {n}," etc.; the generator fills the numbers.
STREET_NAMES: tuple[str, ...] = (
    "SAGU", "HARMONI", "MEWAH", "AIR PANAS", "KPB", "SS 22", "PJU 1A", "BUKIT BINTANG", "KLANG LAMA",
    "IPOH", "TUN RAZAK", "PUCHONG", "KENARI", "MERANTI", "CEMPAKA", "DAMAI", "BAYAN", "PERDANA",
    "KEBUN TEH", "SETIA", "USJ 10", "SERI KEMBANGAN", "TEMENGGUNG", "PERMAS",
)
STREET_WORDS: tuple[str, ...] = ("JALAN", "JLN", "JALAN", "LORONG", "PERSIARAN")
TAMANS: tuple[str, ...] = (
    "DAYA", "DESA HARMONI", "SRI MUDA", "MOLEK", "PERLING", "UNIVERSITI", "BUKIT INDAH", "SENTOSA",
    "CHERAS JAYA", "MUTIARA RINI", "PELANGI", "SETIA INDAH", "KOTA MASAI", "PUCHONG PERDANA",
)
TAMAN_WORDS: tuple[str, ...] = ("TAMAN", "TMN", "TAMAN", "BANDAR", "KAWASAN PERINDUSTRIAN")
# city -> (postcode, state); the postcode is printed with the city as SROIE receipts do.
CITIES: dict[str, tuple[str, str]] = {
    "JOHOR BAHRU": ("81100", "JOHOR"),
    "SKUDAI": ("81300", "JOHOR"),
    "PASIR GUDANG": ("81700", "JOHOR"),
    "KUALA LUMPUR": ("50480", "WILAYAH PERSEKUTUAN"),
    "CHERAS": ("56100", "KUALA LUMPUR"),
    "SETAPAK": ("53200", "KUALA LUMPUR"),
    "SHAH ALAM": ("40400", "SELANGOR"),
    "PETALING JAYA": ("47400", "SELANGOR"),
    "PUCHONG": ("47100", "SELANGOR"),
    "SERI KEMBANGAN": ("43300", "SELANGOR"),
    "KLANG": ("41200", "SELANGOR"),
    "SUBANG JAYA": ("47500", "SELANGOR"),
    "IPOH": ("30450", "PERAK"),
    "GEORGE TOWN": ("10200", "PULAU PINANG"),
    "MELAKA": ("75000", "MELAKA"),
    "SEREMBAN": ("70200", "NEGERI SEMBILAN"),
}
INTL_STREETS: tuple[str, ...] = (
    "MAIN STREET", "HIGH STREET", "OAK AVENUE", "MARKET ST", "KING ROAD", "ELM ST", "PARK LANE",
)
# (city, region code, postcode template with # for digits)
INTL_CITIES: tuple[tuple[str, str, str], ...] = (
    ("SPRINGFIELD", "IL", "627##"), ("AUSTIN", "TX", "787##"), ("PORTLAND", "OR", "972##"),
    ("LONDON", "", "SW1A #AA"), ("MANCHESTER", "", "M# #AB"), ("SEATTLE", "WA", "981##"),
)
# Goods by merchant kind, with a typical unit price in RM (the generator varies it by +-30 %).
GOODS: dict[str, tuple[tuple[str, float], ...]] = {
    "grocery": (
        ("MILO 1KG", 17.5), ("GARDENIA BREAD", 3.2), ("MAGGI CURRY 5S", 6.3), ("DUTCH LADY MILK 1L", 6.9),
        ("EGG GRED A 10S", 4.5), ("SUGAR 1KG", 2.85), ("BERAS SUPER 5KG", 15.9), ("COCA COLA 1.5L", 3.6),
        ("MINERAL WATER 500ML", 1.0), ("NESCAFE 3IN1", 13.9), ("TISSUE BOX", 3.9), ("PLASTIC BAG", 0.2),
        ("CADBURY DAIRY MILK", 7.5), ("SARDIN AYAM 425G", 6.1), ("KICAP MANIS", 3.8),
    ),
    "hardware": (
        ("PVC PIPE 1/2\"", 4.5), ("CABLE TIE 8\"", 3.0), ("SCREW 2\" BOX", 6.5), ("PAINT BRUSH 3\"", 5.0),
        ("WALL PLUG 6MM", 2.0), ("G.I WIRE", 8.0), ("SILICONE SEALANT", 12.0), ("SANDPAPER P120", 1.5),
        ("MASKING TAPE 24MM", 2.8), ("LED BULB 13W", 9.9), ("EXTENSION CORD 3M", 25.0),
        ("HAMMER 16OZ", 18.0), ("SPANNER SET", 35.0), ("GLOVES COTTON", 2.5),
    ),
    "restaurant": (
        ("NASI LEMAK", 4.5), ("MEE GORENG", 6.0), ("TEH TARIK", 2.2), ("KOPI O", 1.8), ("ROTI CANAI", 1.5),
        ("CHICKEN RICE", 7.5), ("1/4 CHIC+ 1SD", 17.9), ("CHARGRILL VEG", 6.9), ("ICED LEMON TEA", 3.5),
        ("FRIED RICE", 8.0), ("WAN TAN MEE", 6.5), ("MILO AIS", 2.8), ("CHAR KUEY TEOW", 7.0),
        ("DELIVERY CHG", 4.0),
    ),
    "stationery": (
        ("A4 PAPER 80GSM", 12.9), ("BALL PEN BLUE", 1.2), ("CORRECTION TAPE", 3.5), ("STAPLER NO.10", 8.9),
        ("FILE FOLDER", 2.5), ("ENVELOPE DL", 0.3), ("GLUE STICK", 2.2), ("HIGHLIGHTER SET", 7.9),
        ("EXERCISE BOOK", 1.6), ("KF MODELLING CLAY", 9.0),
    ),
    "pharmacy": (
        ("PANADOL 500MG", 9.5), ("VITAMIN C 1000MG", 39.9), ("HAND SANITIZER", 8.9),
        ("FACE MASK 50S", 15.0), ("PLASTER STRIPS", 4.5), ("COUGH SYRUP 100ML", 12.5),
        ("ANTISEPTIC LIQUID", 11.0), ("THERMOMETER", 29.0), ("COTTON WOOL", 3.2),
    ),
    "bakery": (
        ("BUTTER CAKE", 12.0), ("CHOCOLATE ROLL", 8.5), ("CURRY PUFF", 1.8), ("CHEESE TART", 3.2),
        ("GARLIC BREAD", 4.5), ("KAYA BUN", 1.6), ("EGG TART", 2.4), ("BANANA CAKE", 10.0), ("DONUT", 1.9),
        ("PANDAN CHIFFON", 14.0),
    ),
}
TITLES: tuple[str, ...] = (
    "TAX INVOICE", "CASH BILL", "RECEIPT", "SIMPLIFIED TAX INVOICE", "OFFICIAL RECEIPT", "INVOICE",
)
CASHIERS: tuple[str, ...] = (
    "MANIS", "AISYAH", "JENNY", "AHMAD", "SITI", "KUMAR", "LIM", "NUR", "01", "ADMIN",
)
DOC_KEYS: tuple[str, ...] = ("INVOICE NO:", "DOC NO:", "RECEIPT #:", "BILL NO:", "INV NO.", "TRANS:")
DOC_PREFIXES: tuple[str, ...] = ("CS", "TD", "INV", "OR", "T", "")
FOOTERS: tuple[tuple[str, ...], ...] = (
    ("THANK YOU", "PLEASE COME AGAIN"), ("GOODS SOLD ARE NOT RETURNABLE", "THANK YOU"),
    ("GOODS SOLD ARE NOT RETURNABLE OR", "EXCHANGEABLE", "THANK YOU"), ("THANK YOU FOR SHOPPING WITH US",),
    ("THIS IS A COMPUTER GENERATED RECEIPT", "NO SIGNATURE REQUIRED"),
    ("*** THANK YOU ***", "HAVE A NICE DAY"), ("TERIMA KASIH", "SILA DATANG LAGI"),
)
# fmt: on
