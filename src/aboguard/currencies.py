"""Active ISO 4217 currencies and the exponent of their minor unit (ISO 4217 list one).

Written by hand from list one: every code with a numeric minor unit. Left out on purpose: codes whose
minor unit is "N.A." (metals XAU XAG XPD XPT, bond units XBA-XBD, XDR, XSU, XUA, test code XTS, no-currency
XXX) and withdrawn codes (list three), e.g. HRK (2023, now EUR), SLL (now SLE), ZWL (now ZWG), ANG (2025,
now XCG) and BGN (2026, now EUR). The fund codes that have a real minor unit stay in (BOV CHE CHW CLF COU
MXV USN UYI UYW), because CLF and UYW are needed and keeping only some funds would be arbitrary.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

_BY_EXPONENT: dict[int, str] = {
    0: "BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF",
    2: "AED AFN ALL AMD AOA ARS AUD AWG AZN BAM BBD BDT BMD BND BOB BOV BRL BSD BTN BWP BYN BZD "
       "CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS "
       "GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD "
       "MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR "
       "PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY "
       "TTD TWD TZS UAH USD USN UYU UZS VED VES WST XCD XCG YER ZAR ZMW ZWG",
    3: "BHD IQD JOD KWD LYD OMR TND",
    4: "CLF UYW",
}

CURRENCY_EXPONENTS: Mapping[str, int] = MappingProxyType(
    {code: exponent for exponent, codes in _BY_EXPONENT.items() for code in codes.split()}
)
