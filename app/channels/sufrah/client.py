"""The one way out to the Sufrah merchant platform's external API (`SUFRAH_API_BASE`, by default
https://api.sufrah.sa/api/v1/external), with the calls and shapes the earlier backend used:

    GET  merchants/{merchantId}/categories                      [{id, nameAr, nameEn, displayOrder, ...}]
    GET  categories/{categoryId}/products?branchId={branchId}   [{id, nameAr, nameEn, descriptionAr,
                                                                  descriptionEn, price, priceAfter,
                                                                  avatar | imageUrl | images[], ...}]
    GET  merchants/{merchantId}/branches                        [{id, nameAr, nameEn, address, city,
                                                                  phoneNumber, latitude, longitude}]
    GET  addresses/check-availability?MerchantId=&Lat=&Lng=     {isAvailable, branchId} (or a boolean)
    POST orders/submit  {merchantId, branchId, orderType, paymentMethod, items[{productId, quantity,
                         notes, addons}], customerName, customerPhone, lat, lng}
                        -> {orderNumber, merchantId, branchId, paymentLink}

The key goes as the bare `Authorization` header (`SUFRAH_API_KEY`, no scheme), as the earlier
backend sent it. A list endpoint may answer one object instead of a list; both are read. Prices are
decimals in major units; they become minor units here, so nothing past this seam sees a float.

Errors are the domain's `PlatformFailed`: `retryable` for a timeout, a connection failure, 429 or
5xx (nothing known to be done; an order submission that timed out may have been taken, see
app/services/merchant_orders.py); not retryable for any other 4xx or an unreadable answer.

`SufrahPlatform(base_url=...)` is the seam for tests (tests/fakes/sufrah_api.py).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

import httpx

from app.errors import PlatformFailed

log = logging.getLogger("sufrah.platform")

DEFAULT_BASE = "https://api.sufrah.sa/api/v1/external"


@dataclass(frozen=True, slots=True)
class PlatformCategory:
    id: str
    name_ar: str
    name_en: str
    sort_order: int


@dataclass(frozen=True, slots=True)
class PlatformProduct:
    id: str
    name_ar: str
    name_en: str
    description_ar: str | None
    description_en: str | None
    price: int  # minor units: what the customer pays (the discounted price when there is one)
    price_before: int | None  # minor units: the price before the discount, when there is one
    image_url: str | None


@dataclass(frozen=True, slots=True)
class PlatformBranch:
    id: str
    name_ar: str
    name_en: str
    address: str
    latitude: float
    longitude: float
    phone: str | None  # as the platform wrote it


@dataclass(frozen=True, slots=True)
class Availability:
    available: bool
    branch_id: str | None  # the branch that delivers there, when the platform named one


@dataclass(frozen=True, slots=True)
class SubmittedOrder:
    order_number: str
    branch_id: str | None
    payment_link: str | None


class SufrahPlatform:
    """An httpx client of the platform; safe to share between tasks of one event loop."""

    def __init__(
        self,
        *,
        base_url: str | None = None,
        api_key: str | None,
        timeout: float = 10.0,
        minor_per_unit: int = 100,
    ) -> None:
        self.base_url = (base_url or DEFAULT_BASE).rstrip("/")
        self._api_key = api_key
        self._minor = minor_per_unit
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    @property
    def configured(self) -> bool:
        return bool(self._api_key)

    async def aclose(self) -> None:
        await self._client.aclose()

    # ── the calls ───────────────────────────────────────────────────────────────────────────
    async def categories(self, merchant_id: str) -> list[PlatformCategory]:
        rows = _rows(await self._call("GET", f"merchants/{_seg(merchant_id)}/categories"))
        return [
            PlatformCategory(
                id=str(row["id"]),
                name_ar=_text(row.get("nameAr")) or _text(row.get("nameEn")) or str(row["id"]),
                name_en=_text(row.get("nameEn")) or _text(row.get("nameAr")) or str(row["id"]),
                sort_order=_int(row.get("displayOrder")),
            )
            for row in rows
        ]

    async def products(self, category_id: str, *, branch_id: str) -> list[PlatformProduct]:
        rows = _rows(
            await self._call(
                "GET", f"categories/{_seg(category_id)}/products", params={"branchId": branch_id}
            )
        )
        return [self._product(row) for row in rows]

    async def branches(self, merchant_id: str) -> list[PlatformBranch]:
        rows = _rows(await self._call("GET", f"merchants/{_seg(merchant_id)}/branches"))
        branches = []
        for row in rows:
            raw_city = row.get("city")
            city: Mapping[str, Any] = raw_city if isinstance(raw_city, Mapping) else {}
            address = _text(row.get("addressAr")) or _text(row.get("address")) or _text(row.get("addressEn"))
            city_name = _text(city.get("nameAr")) or _text(city.get("nameEn"))
            branches.append(
                PlatformBranch(
                    id=str(row["id"]),
                    name_ar=_text(row.get("nameAr")) or _text(row.get("nameEn")) or str(row["id"]),
                    name_en=_text(row.get("nameEn")) or _text(row.get("nameAr")) or str(row["id"]),
                    address=", ".join(part for part in (address, city_name) if part),
                    latitude=_float(row.get("latitude")),
                    longitude=_float(row.get("longitude")),
                    phone=_text(row.get("phoneNumber")),
                )
            )
        return branches

    async def check_availability(
        self, merchant_id: str, *, latitude: float, longitude: float
    ) -> Availability:
        data = await self._call(
            "GET",
            "addresses/check-availability",
            params={"MerchantId": merchant_id, "Lat": str(latitude), "Lng": str(longitude)},
        )
        if isinstance(data, bool):
            return Availability(available=data, branch_id=None)
        if not isinstance(data, Mapping):
            return Availability(available=False, branch_id=None)
        branch = data.get("branchId") or data.get("nearestBranchId")
        branch_id = branch if isinstance(branch, str) and branch else None
        available = data.get("isAvailable") is True or data.get("available") is True or branch_id is not None
        return Availability(available=available, branch_id=branch_id if available else None)

    async def submit_order(self, payload: dict[str, Any]) -> SubmittedOrder:
        data = await self._call("POST", "orders/submit", json=payload)
        if not isinstance(data, Mapping) or data.get("orderNumber") in (None, ""):
            raise PlatformFailed("the platform's answer to the order has no orderNumber", retryable=False)
        link = data.get("paymentLink") or data.get("paymentUrl")
        branch = data.get("branchId")
        return SubmittedOrder(
            order_number=str(data["orderNumber"]),
            branch_id=branch if isinstance(branch, str) and branch else None,
            payment_link=link if isinstance(link, str) and link.startswith(("https://", "http://")) else None,
        )

    # ── plumbing ────────────────────────────────────────────────────────────────────────────
    async def _call(
        self, method: str, path: str, *, params: dict[str, str] | None = None, json: Any = None
    ) -> Any:
        if not self._api_key:
            raise PlatformFailed("SUFRAH_API_KEY is not set", retryable=False)
        headers = {"Authorization": self._api_key, "Accept": "application/json, text/plain;q=0.9"}
        try:
            response = await self._client.request(
                method, f"{self.base_url}/{path}", params=params, json=json, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise PlatformFailed(f"the platform did not answer {path} in time", retryable=True) from exc
        except httpx.HTTPError as exc:
            raise PlatformFailed(
                f"the platform can't be reached ({type(exc).__name__})", retryable=True
            ) from exc
        if response.status_code == 429 or response.status_code >= 500:
            raise PlatformFailed(
                f"the platform answered {path} with {response.status_code}",
                retryable=True,
                status=response.status_code,
            )
        if response.status_code >= 400:
            detail = response.text[:200].strip()
            raise PlatformFailed(
                f"the platform refused {path} ({response.status_code}{': ' + detail if detail else ''})",
                retryable=False,
                status=response.status_code,
            )
        try:  # some answers are JSON labelled text/plain
            return response.json()
        except ValueError as exc:
            raise PlatformFailed(f"the platform's answer to {path} is not JSON", retryable=False) from exc

    def _product(self, row: Mapping[str, Any]) -> PlatformProduct:
        price = self._money(row.get("price")) or 0
        after = self._money(row.get("priceAfter"))
        discounted = after is not None and 0 < after < price
        return PlatformProduct(
            id=str(row["id"]),
            name_ar=_text(row.get("nameAr")) or _text(row.get("nameEn")) or str(row["id"]),
            name_en=_text(row.get("nameEn")) or _text(row.get("nameAr")) or str(row["id"]),
            description_ar=_text(row.get("descriptionAr")),
            description_en=_text(row.get("descriptionEn")),
            price=after if discounted and after is not None else price,
            price_before=price if discounted else None,
            image_url=_image(row),
        )

    def _money(self, raw: object) -> int | None:
        if raw is None or isinstance(raw, bool):
            return None
        try:
            value = Decimal(str(raw))
        except InvalidOperation:
            return None
        if not value.is_finite() or value < 0:
            return None
        return int((value * self._minor).to_integral_value())


def _rows(data: Any) -> list[Mapping[str, Any]]:
    """A list endpoint's rows (it may answer a single object); rows without an id are skipped."""
    rows = data if isinstance(data, list) else [data]
    return [row for row in rows if isinstance(row, Mapping) and row.get("id") not in (None, "")]


def _seg(value: str) -> str:
    """An id as one path segment."""
    return quote(value, safe="")


def _text(raw: object) -> str | None:
    return raw.strip() or None if isinstance(raw, str) else None


def _int(raw: object) -> int:
    try:
        return int(raw) if isinstance(raw, int | float | str) and not isinstance(raw, bool) else 0
    except ValueError:
        return 0


def _float(raw: object) -> float:
    try:
        value = float(raw) if isinstance(raw, int | float | str) and not isinstance(raw, bool) else 0.0
    except ValueError:
        return 0.0
    return value if -180.0 <= value <= 180.0 else 0.0


def _image(row: Mapping[str, Any]) -> str | None:
    candidates: list[object] = [row.get("avatar"), row.get("imageUrl")]
    for key in ("images", "media"):
        for entry in row.get(key) or ():
            candidates.append(entry.get("url") if isinstance(entry, Mapping) else entry)
    for url in candidates:
        if isinstance(url, str) and url.startswith(("https://", "http://")) and len(url) <= 2048:
            return url
    return None
