"""The simulated universe: real KRX stocks with their static facts.

Names, markets, sectors, face values and listing dates are those of the real listings;
share counts and reference prices are rounded, recent-looking figures chosen for
realism, not data to trade on. Reference prices cover every KRX tick band.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Literal

__all__ = ["UNIVERSE", "Ticker", "isin"]

Listing = Literal["KOSPI", "KOSDAQ"]


@dataclass(frozen=True, slots=True)
class Ticker:
    """One listed stock.

    ``shares`` is listed shares; ``face_value`` and ``ref_price`` are KRW. The simulated
    price path reverts towards a path that ends at ``ref_price``.
    """

    code: str
    name_en: str
    name_ko: str
    market: Listing
    sector: str
    shares: int
    face_value: int
    listed: date
    ref_price: int
    kospi200: bool = False
    nxt: bool = True
    #: "etf" for exchange-traded funds and notes (their own tick table), else "stock".
    kind: Literal["stock", "etf"] = "stock"

    @property
    def isin(self) -> str:
        """The ISIN of the common share (``KR7`` + code + ``00`` + check digit)."""
        return isin(self.code)


def isin(code: str) -> str:
    """The ISIN of a Korean common share with the 6-character short ``code``."""
    body = f"KR7{code}00"
    digits = "".join(str(int(ch, 36)) for ch in body)
    # Luhn over the expanded digits, the check digit being the one to append.
    total = 0
    for position, ch in enumerate(reversed(digits)):
        value = int(ch)
        if position % 2 == 0:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return body + str((10 - total % 10) % 10)


def _t(
    code: str,
    name_en: str,
    name_ko: str,
    market: Listing,
    sector: str,
    shares: int,
    face_value: int,
    listed: str,
    ref_price: int,
    *,
    kospi200: bool = False,
    nxt: bool = True,
    kind: Literal["stock", "etf"] = "stock",
) -> Ticker:
    return Ticker(
        code,
        name_en,
        name_ko,
        market,
        sector,
        shares,
        face_value,
        date.fromisoformat(listed),
        ref_price,
        kospi200=kospi200,
        nxt=nxt,
        kind=kind,
    )


#: The universe, in a fixed order (the order of :attr:`MockKIS.tickers`).
UNIVERSE: tuple[Ticker, ...] = (
    # KOSPI
    _t("005930", "Samsung Electronics", "삼성전자", "KOSPI", "전기·전자",
       5_919_637_922, 100, "1975-06-11", 71_000, kospi200=True),
    _t("000660", "SK hynix", "SK하이닉스", "KOSPI", "전기·전자",
       728_002_365, 5_000, "1996-12-26", 198_000, kospi200=True),
    _t("373220", "LG Energy Solution", "LG에너지솔루션", "KOSPI", "전기·전자",
       234_000_000, 500, "2022-01-27", 365_000, kospi200=True),
    _t("207940", "Samsung Biologics", "삼성바이오로직스", "KOSPI", "의약품",
       71_174_000, 2_500, "2016-11-10", 1_020_000, kospi200=True),
    _t("005380", "Hyundai Motor", "현대차", "KOSPI", "운수장비",
       209_416_191, 5_000, "1974-06-28", 215_000, kospi200=True),
    _t("000270", "Kia", "기아", "KOSPI", "운수장비",
       393_000_000, 5_000, "1973-07-21", 98_000, kospi200=True),
    _t("068270", "Celltrion", "셀트리온", "KOSPI", "의약품",
       216_900_000, 1_000, "2018-02-09", 178_000, kospi200=True),
    _t("035420", "NAVER", "NAVER", "KOSPI", "서비스업",
       158_437_008, 100, "2008-11-28", 205_000, kospi200=True),
    _t("035720", "Kakao", "카카오", "KOSPI", "서비스업",
       443_000_000, 100, "2017-07-10", 41_500, kospi200=True),
    _t("051910", "LG Chem", "LG화학", "KOSPI", "화학",
       70_592_343, 5_000, "2001-04-25", 310_000, kospi200=True),
    _t("006400", "Samsung SDI", "삼성SDI", "KOSPI", "전기·전자",
       68_764_530, 5_000, "1979-02-27", 260_000, kospi200=True),
    _t("005490", "POSCO Holdings", "POSCO홀딩스", "KOSPI", "철강·금속",
       84_571_230, 5_000, "1988-06-10", 320_000, kospi200=True),
    _t("105560", "KB Financial Group", "KB금융", "KOSPI", "금융업",
       381_462_103, 5_000, "2008-10-10", 82_000, kospi200=True),
    _t("055550", "Shinhan Financial Group", "신한지주", "KOSPI", "금융업",
       509_000_000, 5_000, "2001-09-10", 52_000, kospi200=True),
    _t("012330", "Hyundai Mobis", "현대모비스", "KOSPI", "운수장비",
       91_795_094, 5_000, "1989-09-05", 245_000, kospi200=True),
    _t("028260", "Samsung C&T", "삼성물산", "KOSPI", "유통업",
       169_976_544, 100, "2014-12-18", 128_000, kospi200=True),
    _t("066570", "LG Electronics", "LG전자", "KOSPI", "전기·전자",
       163_647_814, 5_000, "2002-04-22", 88_000, kospi200=True),
    _t("015760", "Korea Electric Power", "한국전력", "KOSPI", "전기·가스업",
       641_964_077, 5_000, "1989-08-10", 22_800, kospi200=True),
    _t("017670", "SK Telecom", "SK텔레콤", "KOSPI", "통신업",
       214_790_053, 100, "1989-11-07", 53_500, kospi200=True),
    _t("030200", "KT", "KT", "KOSPI", "통신업",
       257_000_000, 5_000, "1998-12-23", 41_000, kospi200=True),
    _t("034020", "Doosan Enerbility", "두산에너빌리티", "KOSPI", "기계",
       640_561_146, 5_000, "2000-10-25", 19_500, kospi200=True),
    _t("010140", "Samsung Heavy Industries", "삼성중공업", "KOSPI", "운수장비",
       880_000_000, 1_000, "1994-10-28", 11_200, kospi200=True),
    _t("316140", "Woori Financial Group", "우리금융지주", "KOSPI", "금융업",
       742_591_501, 5_000, "2019-02-13", 15_400, kospi200=True),
    _t("003490", "Korean Air", "대한항공", "KOSPI", "운수창고업",
       368_220_661, 5_000, "1966-08-01", 22_500, kospi200=True),
    _t("032830", "Samsung Life Insurance", "삼성생명", "KOSPI", "보험",
       200_000_000, 500, "2010-05-12", 86_000, kospi200=True),
    _t("010130", "Korea Zinc", "고려아연", "KOSPI", "철강·금속",
       20_700_000, 5_000, "1990-07-30", 780_000, kospi200=True),
    _t("088350", "Hanwha Life Insurance", "한화생명", "KOSPI", "보험",
       868_530_000, 5_000, "2010-03-17", 2_900),
    _t("018260", "Samsung SDS", "삼성에스디에스", "KOSPI", "서비스업",
       77_377_800, 500, "2014-11-14", 150_000, kospi200=True),
    _t("086790", "Hana Financial Group", "하나금융지주", "KOSPI", "금융업",
       284_723_889, 5_000, "2005-12-12", 62_000, kospi200=True),
    _t("024110", "Industrial Bank of Korea", "기업은행", "KOSPI", "금융업",
       797_425_869, 5_000, "2003-12-24", 14_800, kospi200=True),
    _t("096770", "SK Innovation", "SK이노베이션", "KOSPI", "화학",
       151_000_000, 5_000, "2007-07-25", 110_000, kospi200=True),
    _t("034220", "LG Display", "LG디스플레이", "KOSPI", "전기·전자",
       500_000_000, 5_000, "2004-07-23", 10_500, kospi200=True),
    _t("090430", "Amorepacific", "아모레퍼시픽", "KOSPI", "화학",
       58_514_000, 500, "2006-06-29", 125_000, kospi200=True),
    _t("139480", "E-MART", "이마트", "KOSPI", "유통업",
       27_875_819, 5_000, "2011-06-10", 72_000, kospi200=True),
    _t("259960", "Krafton", "크래프톤", "KOSPI", "서비스업",
       48_000_000, 100, "2021-08-10", 300_000, kospi200=True),
    _t("323410", "KakaoBank", "카카오뱅크", "KOSPI", "금융업",
       476_000_000, 5_000, "2021-08-06", 22_000, kospi200=True),
    _t("352820", "HYBE", "하이브", "KOSPI", "서비스업",
       41_650_000, 500, "2020-10-15", 210_000, kospi200=True),
    _t("251270", "Netmarble", "넷마블", "KOSPI", "서비스업",
       85_960_000, 100, "2017-05-12", 48_000, kospi200=True),
    _t("047810", "Korea Aerospace Industries", "한국항공우주", "KOSPI", "운수장비",
       97_475_107, 5_000, "2011-06-30", 56_000, kospi200=True),
    _t("271560", "Orion", "오리온", "KOSPI", "음식료품",
       39_536_000, 500, "2017-07-07", 98_000, kospi200=True),
    _t("302440", "SK bioscience", "SK바이오사이언스", "KOSPI", "의약품",
       76_800_000, 500, "2021-03-18", 55_000, kospi200=True),
    _t("377300", "Kakao Pay", "카카오페이", "KOSPI", "서비스업",
       133_000_000, 500, "2021-11-03", 30_000),
    _t("064350", "Hyundai Rotem", "현대로템", "KOSPI", "운수장비",
       109_142_293, 5_000, "2013-10-30", 120_000, kospi200=True),
    _t("241560", "Doosan Bobcat", "두산밥캣", "KOSPI", "기계",
       100_249_166, 500, "2016-11-18", 48_000, kospi200=True),
    _t("047040", "Daewoo Engineering & Construction", "대우건설", "KOSPI", "건설업",
       415_000_000, 5_000, "2001-03-23", 3_800, kospi200=True),
    _t("003280", "Heung-A Shipping", "흥아해운", "KOSPI", "운수창고업",
       240_000_000, 500, "1976-06-29", 1_480, nxt=False),
    # KOSDAQ
    _t("247540", "EcoPro BM", "에코프로비엠", "KOSDAQ", "일반전기전자",
       97_801_344, 500, "2019-03-05", 152_000),
    _t("086520", "EcoPro", "에코프로", "KOSDAQ", "일반전기전자",
       133_138_340, 100, "2007-07-20", 78_000),
    _t("196170", "Alteogen", "알테오젠", "KOSDAQ", "제약",
       53_470_000, 500, "2014-12-12", 352_000),
    _t("028300", "HLB", "HLB", "KOSDAQ", "제약",
       131_000_000, 500, "1996-11-22", 62_000),
    _t("263750", "Pearl Abyss", "펄어비스", "KOSDAQ", "디지털컨텐츠",
       64_000_000, 100, "2017-09-14", 33_000),
    _t("293490", "Kakao Games", "카카오게임즈", "KOSDAQ", "디지털컨텐츠",
       82_300_000, 100, "2020-09-10", 19_800),
    _t("035900", "JYP Entertainment", "JYP Ent.", "KOSDAQ", "오락·문화",
       35_500_000, 500, "2001-08-30", 66_000),
    _t("041510", "SM Entertainment", "에스엠", "KOSDAQ", "오락·문화",
       23_800_000, 500, "2000-04-27", 81_000),
    _t("215600", "SillaJen", "신라젠", "KOSDAQ", "제약",
       102_500_000, 500, "2016-12-06", 3_200, nxt=False),
    _t("036630", "Sejong Telecom", "세종텔레콤", "KOSDAQ", "통신서비스",
       720_000_000, 500, "2000-03-14", 580, nxt=False),
    _t("058470", "LEENO Industrial", "리노공업", "KOSDAQ", "반도체",
       15_242_370, 500, "2001-12-18", 205_000),
    _t("145020", "Hugel", "휴젤", "KOSDAQ", "제약",
       12_600_000, 500, "2015-12-24", 260_000),
    _t("086900", "Medytox", "메디톡스", "KOSDAQ", "제약",
       7_400_000, 500, "2009-01-16", 150_000),
    _t("112040", "Wemade", "위메이드", "KOSDAQ", "디지털컨텐츠",
       34_000_000, 500, "2009-12-18", 32_000),
    _t("253450", "Studio Dragon", "스튜디오드래곤", "KOSDAQ", "오락·문화",
       30_060_000, 500, "2017-11-24", 42_000),
    _t("122870", "YG Entertainment", "와이지엔터테인먼트", "KOSDAQ", "오락·문화",
       18_700_000, 500, "2011-11-23", 45_000),
    _t("053800", "AhnLab", "안랩", "KOSDAQ", "소프트웨어",
       10_012_000, 500, "2001-09-13", 62_000),
    _t("042000", "Cafe24", "카페24", "KOSDAQ", "인터넷",
       22_000_000, 100, "2018-02-08", 30_000),
    _t("277810", "Rainbow Robotics", "레인보우로보틱스", "KOSDAQ", "기계·장비",
       19_400_000, 500, "2021-02-03", 180_000),
    _t("096530", "Seegene", "씨젠", "KOSDAQ", "제약",
       52_000_000, 500, "2010-09-21", 24_000),
    # More KOSPI
    _t("000810", "Samsung Fire & Marine Insurance", "삼성화재", "KOSPI", "보험",
       47_374_837, 500, "1975-06-30", 380_000, kospi200=True),
    _t("021240", "Coway", "코웨이", "KOSPI", "서비스업",
       73_799_619, 500, "1996-11-27", 62_000, kospi200=True),
    _t("032640", "LG Uplus", "LG유플러스", "KOSPI", "통신업",
       436_611_361, 5_000, "2008-01-29", 10_500, kospi200=True),
    _t("035250", "Kangwon Land", "강원랜드", "KOSPI", "서비스업",
       213_940_500, 500, "2003-11-17", 17_500, kospi200=True),
    _t("036460", "Korea Gas Corporation", "한국가스공사", "KOSPI", "전기·가스업",
       92_313_000, 5_000, "1999-12-15", 31_000, kospi200=True),
    _t("051900", "LG H&H", "LG생활건강", "KOSPI", "화학",
       15_618_197, 5_000, "2001-04-25", 330_000, kospi200=True),
    _t("078930", "GS", "GS", "KOSPI", "금융업",
       92_915_378, 5_000, "2004-08-05", 42_000, kospi200=True),
    _t("086280", "Hyundai Glovis", "현대글로비스", "KOSPI", "운수창고업",
       75_000_000, 500, "2005-12-26", 120_000, kospi200=True),
    _t("161390", "Hankook Tire & Technology", "한국타이어앤테크놀로지", "KOSPI", "운수장비",
       123_881_095, 500, "2012-10-04", 40_000, kospi200=True),
    _t("180640", "Hanjin KAL", "한진칼", "KOSPI", "금융업",
       66_723_116, 2_500, "2013-08-29", 75_000),
    _t("267250", "HD Hyundai", "HD현대", "KOSPI", "금융업",
       70_631_792, 500, "2017-05-10", 76_000, kospi200=True),
    _t("282330", "BGF Retail", "BGF리테일", "KOSPI", "유통업",
       17_283_906, 1_000, "2017-12-08", 110_000, kospi200=True),
    _t("326030", "SK biopharmaceuticals", "SK바이오팜", "KOSPI", "의약품",
       78_313_250, 500, "2020-07-02", 90_000, kospi200=True),
    _t("004020", "Hyundai Steel", "현대제철", "KOSPI", "철강·금속",
       133_445_785, 5_000, "1978-06-23", 25_000, kospi200=True),
    _t("000720", "Hyundai Engineering & Construction", "현대건설", "KOSPI", "건설업",
       111_355_765, 5_000, "1984-12-22", 32_000, kospi200=True),
    _t("006800", "Mirae Asset Securities", "미래에셋증권", "KOSPI", "증권",
       635_000_000, 5_000, "1988-08-22", 9_000, kospi200=True),
    _t("005830", "DB Insurance", "DB손해보험", "KOSPI", "보험",
       70_800_000, 500, "1973-06-26", 100_000, kospi200=True),
    _t("071050", "Korea Investment Holdings", "한국금융지주", "KOSPI", "증권",
       55_725_992, 5_000, "2003-07-15", 80_000, kospi200=True),
    _t("016360", "Samsung Securities", "삼성증권", "KOSPI", "증권",
       89_300_000, 5_000, "1988-08-22", 45_000, kospi200=True),
    _t("009830", "Hanwha Solutions", "한화솔루션", "KOSPI", "화학",
       171_892_536, 5_000, "1974-06-28", 25_000, kospi200=True),
    _t("000100", "Yuhan", "유한양행", "KOSPI", "의약품",
       80_000_000, 1_000, "1962-11-01", 110_000, kospi200=True),
    _t("128940", "Hanmi Pharm", "한미약품", "KOSPI", "의약품",
       12_810_000, 2_500, "2010-07-30", 300_000, kospi200=True),
    _t("004370", "Nongshim", "농심", "KOSPI", "음식료품",
       6_082_642, 5_000, "1976-06-30", 380_000, kospi200=True),
    _t("010950", "S-Oil", "S-Oil", "KOSPI", "화학",
       112_582_792, 2_500, "1987-05-27", 60_000, kospi200=True),
    _t("012450", "Hanwha Aerospace", "한화에어로스페이스", "KOSPI", "기계",
       50_630_000, 5_000, "1987-05-30", 350_000, kospi200=True),
    _t("042660", "Hanwha Ocean", "한화오션", "KOSPI", "운수장비",
       306_413_394, 5_000, "2001-02-02", 60_000, kospi200=True),
    _t("329180", "HD Hyundai Heavy Industries", "HD현대중공업", "KOSPI", "운수장비",
       88_773_116, 5_000, "2021-09-17", 300_000, kospi200=True),
    _t("033780", "KT&G", "KT&G", "KOSPI", "음식료품",
       115_000_000, 5_000, "1999-10-08", 100_000, kospi200=True),
    _t("009150", "Samsung Electro-Mechanics", "삼성전기", "KOSPI", "전기·전자",
       74_693_696, 5_000, "1979-02-27", 130_000, kospi200=True),
    _t("036570", "NCSoft", "엔씨소프트", "KOSPI", "서비스업",
       21_954_022, 500, "2003-05-27", 200_000, kospi200=True),
    _t("003620", "KG Mobility", "KG모빌리티", "KOSPI", "운수장비",
       200_000_000, 5_000, "1994-12-26", 4_500, nxt=False),
    _t("001520", "Tongyang", "동양", "KOSPI", "비금속광물",
       239_000_000, 1_000, "1976-06-29", 1_050, nxt=False),
    # More KOSDAQ
    _t("036930", "Jusung Engineering", "주성엔지니어링", "KOSDAQ", "반도체",
       48_300_000, 500, "1999-12-24", 30_000),
    _t("067310", "Hana Micron", "하나마이크론", "KOSDAQ", "반도체",
       60_000_000, 500, "2005-10-25", 12_000),
    _t("240810", "Wonik IPS", "원익IPS", "KOSDAQ", "반도체",
       49_000_000, 500, "2016-05-03", 28_000),
    _t("039030", "EO Technics", "이오테크닉스", "KOSDAQ", "반도체",
       12_300_000, 500, "2000-11-24", 150_000),
    _t("141080", "LigaChem Biosciences", "리가켐바이오", "KOSDAQ", "제약",
       36_500_000, 500, "2013-05-10", 90_000),
    _t("214150", "Classys", "클래시스", "KOSDAQ", "의료·정밀기기",
       65_000_000, 100, "2017-12-21", 40_000),
    _t("005290", "Dongjin Semichem", "동진쎄미켐", "KOSDAQ", "화학",
       51_400_000, 500, "1999-12-02", 25_000),
    _t("098460", "Koh Young Technology", "고영", "KOSDAQ", "의료·정밀기기",
       68_700_000, 500, "2008-05-28", 12_000),
    _t("060310", "3S Korea", "쓰리에스", "KOSDAQ", "반도체",
       50_000_000, 500, "2002-09-13", 2_600, nxt=False),
    # An ETF, quoted and traded on the ETF tick table (5 KRW from 2,000 KRW up).
    _t("069500", "KODEX 200", "KODEX 200", "KOSPI", "ETF",
       160_000_000, 0, "2002-10-14", 35_000, kind="etf"),
)  # fmt: skip
