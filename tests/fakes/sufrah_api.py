"""A local fake of the Sufrah merchant platform's external API, over real HTTP, built from the calls
the earlier backend made (its sufrahApi.ts and orderSubmission.ts, and the platform's Postman
collection): the paths, the bare `Authorization: <api key>` header (401 otherwise) and the shapes.

    async with FakeSufrah(api_key="key") as fake:
        merchant = fake.merchant("m-1")
        merchant.category("c-1", "مشروبات", "Drinks")
        merchant.branch("b-1", "العليا", "Olaya", latitude=24.7, longitude=46.6, phone="0501234567")
        merchant.product("c-1", "b-1", "p-1", "قهوة", "Coffee", price=12.5, price_after=10)
        merchant.covers(lambda lat, lng: "b-1" if lat > 24 else None)
        platform = SufrahPlatform(base_url=fake.base_url, api_key="key")

`fake.fail(503, 503)` makes the next calls answer those statuses (any path); `fake.orders` holds the
submitted order bodies, `fake.requests` every (method, path, query) seen.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Self

from aiohttp import web


@dataclass
class FakeMerchant:
    id: str
    categories: list[dict[str, Any]] = field(default_factory=list)
    branches: list[dict[str, Any]] = field(default_factory=list)
    products: dict[tuple[str, str], list[dict[str, Any]]] = field(default_factory=dict)
    coverage: Callable[[float, float], str | None] = lambda lat, lng: None
    payment_link: str | None = "https://pay.sufrah.test/{number}"

    def category(self, category_id: str, name_ar: str, name_en: str, *, order: int = 0) -> None:
        self.categories.append(
            {"id": category_id, "nameAr": name_ar, "nameEn": name_en, "displayOrder": order, "imageUrl": None}
        )

    def branch(
        self,
        branch_id: str,
        name_ar: str,
        name_en: str,
        *,
        latitude: float = 24.7,
        longitude: float = 46.7,
        phone: str | None = None,
    ) -> None:
        self.branches.append(
            {
                "id": branch_id,
                "nameAr": name_ar,
                "nameEn": name_en,
                "address": f"{name_en} street",
                "city": {"id": "riyadh", "nameAr": "الرياض", "nameEn": "Riyadh", "areas": []},
                "phoneNumber": phone,
                "latitude": str(latitude),
                "longitude": str(longitude),
                "imageUrl": None,
            }
        )

    def product(
        self,
        category_id: str,
        branch_id: str,
        product_id: str,
        name_ar: str,
        name_en: str,
        *,
        price: float,
        price_after: float | None = None,
        avatar: str | None = None,
        description_en: str | None = None,
    ) -> None:
        self.products.setdefault((category_id, branch_id), []).append(
            {
                "id": product_id,
                "avatar": avatar,
                "nameAr": name_ar,
                "nameEn": name_en,
                "descriptionAr": None,
                "descriptionEn": description_en,
                "price": price,
                "priceAfter": price_after,
                "images": [],
                "isAvailableToDelivery": True,
                "isAvailableToReceipt": True,
                "productAddons": [],
                "options": [],
            }
        )

    def remove_product(self, product_id: str) -> None:
        for rows in self.products.values():
            rows[:] = [row for row in rows if row["id"] != product_id]

    def covers(self, rule: Callable[[float, float], str | None]) -> None:
        """rule(lat, lng) -> the delivering branch's id, or None outside coverage."""
        self.coverage = rule


class FakeSufrah:
    def __init__(self, *, api_key: str = "sufrah-test-key", host: str = "127.0.0.1", port: int = 0) -> None:
        self.api_key = api_key
        self._host, self._port = host, port
        self.merchants: dict[str, FakeMerchant] = {}
        self.orders: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self.failures: deque[int] = deque()
        self.next_number = 3965
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def merchant(self, merchant_id: str) -> FakeMerchant:
        return self.merchants.setdefault(merchant_id, FakeMerchant(merchant_id))

    def fail(self, *statuses: int) -> None:
        self.failures.extend(statuses)

    async def start(self) -> None:
        app = web.Application(middlewares=[self._gate])
        prefix = "/api/v1/external"
        app.router.add_get(prefix + "/merchants/{id}/categories", self._categories)
        app.router.add_get(prefix + "/merchants/{id}/branches", self._branches)
        app.router.add_get(prefix + "/categories/{id}/products", self._products)
        app.router.add_get(prefix + "/addresses/check-availability", self._availability)
        app.router.add_post(prefix + "/orders/submit", self._submit)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self._host, self._port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://{self._host}:{port}{prefix}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @web.middleware
    async def _gate(self, request: web.Request, handler: Any) -> web.StreamResponse:
        self.requests.append((request.method, request.path, dict(request.query)))
        if request.headers.get("Authorization") != self.api_key:
            return web.json_response({"error": "Unauthorized"}, status=401)
        if self.failures:
            return web.json_response({"error": "unavailable"}, status=self.failures.popleft())
        response: web.StreamResponse = await handler(request)
        return response

    def _merchant(self, merchant_id: str) -> FakeMerchant:
        if merchant_id not in self.merchants:
            raise web.HTTPNotFound(text='{"error": "merchant not found"}', content_type="application/json")
        return self.merchants[merchant_id]

    async def _categories(self, request: web.Request) -> web.Response:
        return web.json_response(self._merchant(request.match_info["id"]).categories)

    async def _branches(self, request: web.Request) -> web.Response:
        return web.json_response(self._merchant(request.match_info["id"]).branches)

    async def _products(self, request: web.Request) -> web.Response:
        branch_id = request.query.get("branchId")
        if not branch_id:
            return web.json_response({"error": "branchId is required"}, status=400)
        category_id = request.match_info["id"]
        for merchant in self.merchants.values():
            if any(c["id"] == category_id for c in merchant.categories):
                # "text/plain" with a JSON body, as the platform labels some answers
                return web.Response(
                    text=_json(merchant.products.get((category_id, branch_id), [])), content_type="text/plain"
                )
        return web.json_response({"error": "category not found"}, status=404)

    async def _availability(self, request: web.Request) -> web.Response:
        merchant = self._merchant(request.query.get("MerchantId", ""))
        try:
            lat, lng = float(request.query["Lat"]), float(request.query["Lng"])
        except (KeyError, ValueError):
            return web.json_response({"error": "Lat and Lng are required"}, status=400)
        branch_id = merchant.coverage(lat, lng)
        return web.json_response({"isAvailable": branch_id is not None, "branchId": branch_id})

    async def _submit(self, request: web.Request) -> web.Response:
        body = await request.json()
        merchant = self._merchant(str(body.get("merchantId", "")))
        if not body.get("items") or not body.get("branchId"):
            return web.json_response({"error": "items and branchId are required"}, status=400)
        self.orders.append(body)
        number = self.next_number
        self.next_number += 1
        link = merchant.payment_link.format(number=number) if merchant.payment_link else None
        online = body.get("paymentMethod") == "Online"
        return web.json_response(
            {
                "orderNumber": number,
                "merchantId": merchant.id,
                "branchId": body["branchId"],
                "paymentLink": link if online else None,
            }
        )


def _json(value: object) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)


# A small merchant for tests: two branches, two categories, a discount at one branch, a product
# only one branch has, and coverage around Olaya (delivered by the Olaya branch).
OLAYA, MALQA = "b-olaya", "b-malqa"


def furnish(merchant: FakeMerchant) -> FakeMerchant:
    merchant.branch(OLAYA, "العليا", "Olaya", latitude=24.69, longitude=46.685, phone="0501112222")
    merchant.branch(MALQA, "الملقا", "Malqa", latitude=24.81, longitude=46.61)
    merchant.category("c-drinks", "مشروبات", "Drinks", order=2)
    merchant.category("c-meals", "وجبات", "Meals", order=1)
    merchant.product(
        "c-meals",
        OLAYA,
        "p-kabsa",
        "كبسة",
        "Kabsa",
        price=40,
        price_after=35,
        avatar="https://img.test/kabsa.jpg",
    )
    merchant.product("c-meals", MALQA, "p-kabsa", "كبسة", "Kabsa", price=42)
    merchant.product("c-meals", OLAYA, "p-mandi", "مندي", "Mandi", price=50)
    for branch in (OLAYA, MALQA):
        merchant.product("c-drinks", branch, "p-tea", "شاي", "Tea", price=5.5)
    merchant.covers(lambda lat, lng: OLAYA if abs(lat - 24.69) < 0.2 and abs(lng - 46.685) < 0.2 else None)
    return merchant
