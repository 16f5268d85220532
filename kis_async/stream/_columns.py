"""The column lists of KIS's real-time records, in wire order (kis-api.md §8.4, §8.5).

A data frame carries records as ``^``-joined fields; a record's meaning is its
position, so these tuples are the whole protocol of the payload. They come from
the facts file and KIS's official samples, never from the mock server.
"""

from __future__ import annotations

from typing import Final

__all__ = [
    "BOOK_COLUMNS",
    "BOOK_TR_IDS",
    "FILL_COLUMNS",
    "FILL_TR_IDS",
    "MID_PRICE_COLUMNS",
    "TRADE_COLUMNS",
    "TRADE_TR_IDS",
    "UNIFIED_BOOK_COLUMNS",
]

#: H0STCNT0 (KRX), H0NXCNT0 (NXT), H0UNCNT0 (integrated): 46 columns. The NXT and
#: integrated variants name the 22nd ``CNTG_CLS_CODE``; the meaning is the same.
TRADE_COLUMNS: Final = (
    "MKSC_SHRN_ISCD",
    "STCK_CNTG_HOUR",
    "STCK_PRPR",
    "PRDY_VRSS_SIGN",
    "PRDY_VRSS",
    "PRDY_CTRT",
    "WGHN_AVRG_STCK_PRC",
    "STCK_OPRC",
    "STCK_HGPR",
    "STCK_LWPR",
    "ASKP1",
    "BIDP1",
    "CNTG_VOL",
    "ACML_VOL",
    "ACML_TR_PBMN",
    "SELN_CNTG_CSNU",
    "SHNU_CNTG_CSNU",
    "NTBY_CNTG_CSNU",
    "CTTR",
    "SELN_CNTG_SMTN",
    "SHNU_CNTG_SMTN",
    "CCLD_DVSN",
    "SHNU_RATE",
    "PRDY_VOL_VRSS_ACML_VOL_RATE",
    "OPRC_HOUR",
    "OPRC_VRSS_PRPR_SIGN",
    "OPRC_VRSS_PRPR",
    "HGPR_HOUR",
    "HGPR_VRSS_PRPR_SIGN",
    "HGPR_VRSS_PRPR",
    "LWPR_HOUR",
    "LWPR_VRSS_PRPR_SIGN",
    "LWPR_VRSS_PRPR",
    "BSOP_DATE",
    "NEW_MKOP_CLS_CODE",
    "TRHT_YN",
    "ASKP_RSQN1",
    "BIDP_RSQN1",
    "TOTAL_ASKP_RSQN",
    "TOTAL_BIDP_RSQN",
    "VOL_TNRT",
    "PRDY_SMNS_HOUR_ACML_VOL",
    "PRDY_SMNS_HOUR_ACML_VOL_RATE",
    "HOUR_CLS_CODE",
    "MRKT_TRTM_CLS_CODE",
    "VI_STND_PRC",
)

#: H0STASP0 (KRX order book): 59 columns.
BOOK_COLUMNS: Final = (
    "MKSC_SHRN_ISCD",
    "BSOP_HOUR",
    "HOUR_CLS_CODE",
    *(f"ASKP{i}" for i in range(1, 11)),
    *(f"BIDP{i}" for i in range(1, 11)),
    *(f"ASKP_RSQN{i}" for i in range(1, 11)),
    *(f"BIDP_RSQN{i}" for i in range(1, 11)),
    "TOTAL_ASKP_RSQN",
    "TOTAL_BIDP_RSQN",
    "OVTM_TOTAL_ASKP_RSQN",
    "OVTM_TOTAL_BIDP_RSQN",
    "ANTC_CNPR",
    "ANTC_CNQN",
    "ANTC_VOL",
    "ANTC_CNTG_VRSS",
    "ANTC_CNTG_VRSS_SIGN",
    "ANTC_CNTG_PRDY_CTRT",
    "ACML_VOL",
    "TOTAL_ASKP_RSQN_ICDC",
    "TOTAL_BIDP_RSQN_ICDC",
    "OVTM_TOTAL_ASKP_ICDC",
    "OVTM_TOTAL_BIDP_ICDC",
    "STCK_DEAL_CLS_CODE",
)

#: The KRX and NXT mid prices that H0NXASP0 / H0UNASP0 add after the 59.
MID_PRICE_COLUMNS: Final = (
    "KMID_PRC",
    "KMID_TOTAL_RSQN",
    "KMID_CLS_CODE",
    "NMID_PRC",
    "NMID_TOTAL_RSQN",
    "NMID_CLS_CODE",
)

#: H0NXASP0 (NXT) and H0UNASP0 (integrated) order books: 65 columns.
UNIFIED_BOOK_COLUMNS: Final = (*BOOK_COLUMNS, *MID_PRICE_COLUMNS)

#: H0STCNI0 (real) / H0STCNI9 (virtual) fill notices: 26 columns, in the order OTA
#: corrected on 2026-02-12 (4th OODER_NO, 17th ODER_QTY). The older order put
#: ODER_QTY 4th and made every quantity wrong.
FILL_COLUMNS: Final = (
    "CUST_ID",
    "ACNT_NO",
    "ODER_NO",
    "OODER_NO",
    "SELN_BYOV_CLS",
    "RCTF_CLS",
    "ODER_KIND",
    "ODER_COND",
    "STCK_SHRN_ISCD",
    "CNTG_QTY",
    "CNTG_UNPR",
    "STCK_CNTG_HOUR",
    "RFUS_YN",
    "CNTG_YN",
    "ACPT_YN",
    "BRNC_NO",
    "ODER_QTY",
    "ACNT_NAME",
    "ORD_COND_PRC",
    "ORD_EXG_GB",
    "POPUP_YN",
    "FILLER",
    "CRDT_CLS",
    "CRDT_LOAN_DATE",
    "CNTG_ISNM40",
    "ODER_PRC",
)

#: Trade tr_id by market: KRX, NXT, integrated (KRX + NXT).
TRADE_TR_IDS: Final = {"KRX": "H0STCNT0", "NXT": "H0NXCNT0", "UN": "H0UNCNT0"}
#: Order-book tr_id by market.
BOOK_TR_IDS: Final = {"KRX": "H0STASP0", "NXT": "H0NXASP0", "UN": "H0UNASP0"}
#: Fill-notice tr_id by server.
FILL_TR_IDS: Final = {"real": "H0STCNI0", "virtual": "H0STCNI9"}
