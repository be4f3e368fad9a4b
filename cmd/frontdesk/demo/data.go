package demo

import "fmt"

// User is a customer profile.
type User struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Email    string   `json:"email"`
	Tier     string   `json:"tier"`
	Locale   string   `json:"locale"`
	Currency string   `json:"currency"`
	Address  Address  `json:"address"`
	Flags    []string `json:"flags"`
	Since    string   `json:"member_since"`

	Phone       string            `json:"phone"`
	Billing     Address           `json:"billing_address"`
	Preferences map[string]string `json:"preferences"`
	Loyalty     Loyalty           `json:"loyalty"`
}

// Loyalty is a customer's loyalty programme standing.
type Loyalty struct {
	Number  string `json:"number"`
	Points  int    `json:"points"`
	Expires string `json:"points_expire"`
}

// Address is a postal address.
type Address struct {
	Line1   string `json:"line1"`
	City    string `json:"city"`
	Zip     string `json:"zip"`
	Country string `json:"country"`
}

// Cart is a shopping cart.
type Cart struct {
	ID       string     `json:"id"`
	UserID   string     `json:"user_id"`
	Currency string     `json:"currency"`
	Items    []CartItem `json:"items"`
	Subtotal float64    `json:"subtotal"`
	Shipping float64    `json:"shipping"`
	Discount float64    `json:"discount"`
	Total    float64    `json:"total"`
	Coupon   *string    `json:"coupon"`
	Updated  string     `json:"updated_at"`

	Created    string            `json:"created_at"`
	Channel    string            `json:"channel"`
	Tax        float64           `json:"tax"`
	TaxRate    float64           `json:"tax_rate"`
	ShipMethod *ShippingMethod   `json:"shipping_method"`
	Promotions []Promotion       `json:"promotions"`
	Notes      string            `json:"notes"`
	Links      map[string]string `json:"links"`
	Source     map[string]string `json:"source"`
}

// ShippingMethod is how a cart would be delivered.
type ShippingMethod struct {
	ID       string  `json:"id"`
	Name     string  `json:"name"`
	Carrier  string  `json:"carrier"`
	Price    float64 `json:"price"`
	Estimate string  `json:"estimate"`
}

// Promotion is a discount applied to a cart.
type Promotion struct {
	Code        string  `json:"code"`
	Description string  `json:"description"`
	Amount      float64 `json:"amount"`
}

// CartItem is one line of a cart.
type CartItem struct {
	SKU       string  `json:"sku"`
	Name      string  `json:"name"`
	Qty       int     `json:"qty"`
	UnitPrice float64 `json:"unit_price"`
	LineTotal float64 `json:"line_total"`
	Image     string  `json:"image"`
	Gift      bool    `json:"gift"`

	Variant  string            `json:"variant"`
	Seller   string            `json:"seller"`
	URL      string            `json:"url"`
	Delivery string            `json:"delivery_estimate"`
	Options  map[string]string `json:"options"`
	Added    string            `json:"added_at"`
	EAN      string            `json:"ean"`
}

// Product is a catalog entry.
type Product struct {
	SKU         string            `json:"sku"`
	Name        string            `json:"name"`
	Brand       string            `json:"brand"`
	Price       float64           `json:"price"`
	Description string            `json:"description"`
	Images      []string          `json:"images"`
	Rating      float64           `json:"rating"`
	Reviews     int               `json:"reviews"`
	Attributes  map[string]string `json:"attributes"`
	Categories  []string          `json:"categories"`

	Details    string            `json:"long_description"`
	Specs      map[string]string `json:"specs"`
	Dimensions Dimensions        `json:"dimensions"`
	Warranty   string            `json:"warranty"`
	Tags       []string          `json:"tags"`
	Shipping   string            `json:"shipping_note"`
	Thumbnails []string          `json:"thumbnails"`
}

// Dimensions is a packed product's size and weight.
type Dimensions struct {
	Width  float64 `json:"width_cm"`
	Height float64 `json:"height_cm"`
	Depth  float64 `json:"depth_cm"`
	Weight float64 `json:"weight_kg"`
}

type stockEntry struct {
	qty        int
	aisle, bin string
	restock    string

	reserved, incoming int
	supplier, batch    string
	leadDays           int
}

// detailsXML is the rest of an inventory item, after <restock>.
func (s stockEntry) detailsXML() string {
	return fmt.Sprintf("    <reserved>%d</reserved>\n    <incoming due=%q>%d</incoming>\n    <supplier id=%q lead_time_days=\"%d\"/>\n    <batch>%s</batch>\n    <updated by=\"wms-sync\">2026-11-27T07:58:41Z</updated>\n",
		s.reserved, s.restock, s.incoming, s.supplier, s.leadDays, s.batch)
}

var users = map[string]User{
	"u1": {ID: "u1", Name: "Ada Lovelace", Email: "ada@example.com", Tier: "gold", Locale: "en-GB", Currency: "EUR",
		Address: Address{Line1: "12 Analytical Row", City: "London", Zip: "01234", Country: "GB"},
		Flags:   []string{"beta_checkout", "saved_cards"}, Since: "2019-03-14",
		Phone:       "+44 20 7946 0958",
		Billing:     Address{Line1: "12 Analytical Row", City: "London", Zip: "01234", Country: "GB"},
		Preferences: map[string]string{"newsletter": "weekly", "delivery_window": "evening"},
		Loyalty:     Loyalty{Number: "LC-0019-3141", Points: 4210, Expires: "2027-03-31"}},
	"u2": {ID: "u2", Name: "Grace Hopper", Email: "grace@example.com", Tier: "silver", Locale: "en-US", Currency: "USD",
		Address: Address{Line1: "1 Compiler Way", City: "Arlington", Zip: "22201", Country: "US"},
		Flags:   []string{}, Since: "2021-07-01",
		Phone:       "+1 703 555 0142",
		Billing:     Address{Line1: "1 Compiler Way", City: "Arlington", Zip: "22201", Country: "US"},
		Preferences: map[string]string{"newsletter": "never"},
		Loyalty:     Loyalty{Number: "LC-0021-0701", Points: 120, Expires: "2027-07-01"}},
}

var coupon = "WELCOME10"

var carts = map[string]Cart{
	"c1": {ID: "c1", UserID: "u1", Currency: "EUR", Subtotal: 146.5, Shipping: 4.9, Discount: 10, Total: 141.4, Coupon: &coupon,
		Updated: "2026-11-27T07:55:12Z",
		Created: "2026-11-20T12:39:51Z", Channel: "web", Tax: 24.54, TaxRate: 0.21,
		ShipMethod: &ShippingMethod{ID: "std-eu", Name: "Standard delivery", Carrier: "PostNL", Price: 4.9, Estimate: "2-3 working days"},
		Promotions: []Promotion{{Code: "WELCOME10", Description: "10 EUR off your first order over 50 EUR", Amount: 10}},
		Notes:      "Please leave the parcel with the neighbours at number 14 if nobody is home.",
		Links: map[string]string{"self": "/carts/c1", "checkout": "/checkout/c1", "user": "/users/u1",
			"share": "https://shop.example.com/cart/shared/7f3c9a21"},
		Source: map[string]string{"utm_source": "newsletter", "utm_campaign": "winter-coffee-2026", "referrer": "https://mail.example.com/"},
		Items: []CartItem{
			{SKU: "A1", Name: "Espresso beans, 1 kg", Qty: 2, UnitPrice: 24.5, LineTotal: 49, Image: "https://img.example.com/a1.jpg",
				Variant: "1 kg bag, whole bean", Seller: "Roastery North", URL: "https://shop.example.com/p/espresso-beans-1kg", Delivery: "Tue 1 Dec",
				Options: map[string]string{"grind": "whole bean", "bag": "1 kg"}, Added: "2026-11-25T19:02:44Z", EAN: "8710000012345"},
			{SKU: "B2", Name: "Burr grinder", Qty: 1, UnitPrice: 89, LineTotal: 89, Image: "https://img.example.com/b2.jpg",
				Variant: "matte black, EU plug", Seller: "Mill & Co", URL: "https://shop.example.com/p/burr-grinder", Delivery: "Wed 2 Dec",
				Options: map[string]string{"colour": "matte black", "plug": "EU"}, Added: "2026-11-25T19:04:10Z", EAN: "8710000023456"},
			{SKU: "C3", Name: "Milk jug, 350 ml", Qty: 1, UnitPrice: 8.5, LineTotal: 8.5, Image: "https://img.example.com/c3.jpg", Gift: true,
				Variant: "350 ml, brushed steel", Seller: "Barista Tools", URL: "https://shop.example.com/p/milk-jug-350", Delivery: "Tue 1 Dec",
				Options: map[string]string{"size": "350 ml", "gift_wrap": "kraft paper", "gift_message": "Happy brewing!"}, Added: "2026-11-26T08:15:37Z", EAN: "8710000034567"},
			{SKU: "D4", Name: "Descaler (sold out)", Qty: 0, UnitPrice: 6, LineTotal: 0, Image: "https://img.example.com/d4.jpg",
				Variant: "2 doses", Seller: "CleanBrew", URL: "https://shop.example.com/p/descaler-2-doses", Delivery: "back in stock mid January",
				Options: map[string]string{"pack": "2 doses"}, Added: "2026-11-20T12:40:03Z", EAN: "8710000045678"},
		}},
	"c2": {ID: "c2", UserID: "u2", Currency: "USD", Subtotal: 0, Total: 0, Updated: "2026-11-26T18:00:00Z", Items: []CartItem{},
		Created: "2026-11-26T17:58:02Z", Channel: "ios", Promotions: []Promotion{},
		Links: map[string]string{"self": "/carts/c2", "user": "/users/u2"}},
}

var products = map[string]Product{
	"A1": {SKU: "A1", Name: "Espresso beans, 1 kg", Brand: "Roastery North", Price: 24.5, Rating: 4.7, Reviews: 1284,
		Description: "A chocolate-forward blend of Brazilian and Ethiopian beans, roasted medium-dark for espresso.",
		Images:      []string{"https://img.example.com/a1.jpg", "https://img.example.com/a1-back.jpg"},
		Attributes:  map[string]string{"origin": "Brazil, Ethiopia", "roast": "medium-dark", "weight": "1 kg"},
		Categories:  []string{"coffee", "beans"},
		Details:     "Roasted in small batches every Tuesday and shipped within 48 hours of roasting. Notes of dark chocolate, hazelnut and a hint of dried cherry; a syrupy body that holds up well in milk drinks. Rest the beans for five to seven days after the roast date for the best espresso.",
		Specs:       map[string]string{"roast_date": "printed on the bag", "process": "natural and washed", "altitude": "1100-1900 m", "caffeine": "regular"},
		Dimensions:  Dimensions{Width: 14, Height: 28, Depth: 8, Weight: 1.05},
		Warranty:    "Freshness guarantee: return within 30 days if it is not to your taste.",
		Tags:        []string{"espresso", "medium-dark", "chocolate", "bestseller", "subscription"},
		Shipping:    "Ships in 1 working day from the roastery; free shipping over 50 EUR.",
		Thumbnails:  []string{"https://img.example.com/thumb/a1-1.jpg", "https://img.example.com/thumb/a1-2.jpg"}},
	"B2": {SKU: "B2", Name: "Burr grinder", Brand: "Mill & Co", Price: 89, Rating: 4.4, Reviews: 312,
		Description: "Conical steel burrs with 40 settings from espresso to French press.",
		Images:      []string{"https://img.example.com/b2.jpg"},
		Attributes:  map[string]string{"burr": "conical steel", "settings": "40", "power": "150 W"},
		Categories:  []string{"equipment", "grinders"},
		Details:     "A 40 mm conical burr set in hardened steel, driven by a low-speed motor that keeps the grounds cool and the noise down. Forty stepped settings cover espresso through French press, and the anti-static chamber keeps retention below half a gram.",
		Specs:       map[string]string{"burr_size": "40 mm", "hopper": "250 g", "motor_rpm": "450", "noise": "68 dB", "timer": "digital, 0.1 s steps"},
		Dimensions:  Dimensions{Width: 13.5, Height: 36, Depth: 21, Weight: 2.9},
		Warranty:    "Two years manufacturer warranty; burrs are replaceable.",
		Tags:        []string{"grinder", "conical", "espresso", "filter", "electric"},
		Shipping:    "Ships in 2-3 working days from the Mill & Co warehouse; returns within 30 days.",
		Thumbnails:  []string{"https://img.example.com/thumb/b2-1.jpg", "https://img.example.com/thumb/b2-2.jpg"}},
	"C3": {SKU: "C3", Name: "Milk jug, 350 ml", Brand: "Barista Tools", Price: 8.5, Rating: 4.8, Reviews: 97,
		Description: "Stainless steel pitcher with a sharp spout for latte art.",
		Images:      []string{"https://img.example.com/c3.jpg"},
		Attributes:  map[string]string{"material": "stainless steel", "volume": "350 ml"},
		Categories:  []string{"equipment", "milk"},
		Details:     "Brushed 18/8 stainless steel with a tapered, sharp spout for pouring hearts, tulips and rosettas. Internal measuring lines at 150, 250 and 350 ml help you steam just enough milk for one or two drinks with less waste.",
		Specs:       map[string]string{"steel": "18/8 stainless", "finish": "brushed", "markings": "150/250/350 ml", "dishwasher_safe": "yes", "handle": "welded"},
		Dimensions:  Dimensions{Width: 10, Height: 10.5, Depth: 8, Weight: 0.22},
		Warranty:    "Five years against manufacturing defects.",
		Tags:        []string{"latte art", "milk", "pitcher", "stainless steel", "gift idea"},
		Shipping:    "Ships in 1 working day; gift wrapping available at checkout.",
		Thumbnails:  []string{"https://img.example.com/thumb/c3-1.jpg", "https://img.example.com/thumb/c3-2.jpg"}},
	"D4": {SKU: "D4", Name: "Descaler", Brand: "CleanBrew", Price: 6, Rating: 4.1, Reviews: 45,
		Description: "Citric-acid descaler for espresso machines, two doses.",
		Images:      []string{"https://img.example.com/d4.jpg"},
		Attributes:  map[string]string{"doses": "2"},
		Categories:  []string{"care"},
		Details:     "A citric-acid based descaler, biodegradable and safe for aluminium and brass boilers. Each dose treats one full descaling cycle; use it every two to three months, or more often in hard-water areas, to keep flow and temperature stable.",
		Specs:       map[string]string{"active_ingredient": "citric acid", "doses": "2 x 125 ml", "compatible": "espresso machines and kettles", "biodegradable": "yes"},
		Dimensions:  Dimensions{Width: 6, Height: 18, Depth: 6, Weight: 0.28},
		Warranty:    "Unopened bottles can be returned within 14 days.",
		Tags:        []string{"descaler", "maintenance", "citric acid", "eco"},
		Shipping:    "Out of stock; we will ship as soon as the next batch arrives.",
		Thumbnails:  []string{"https://img.example.com/thumb/d4-1.jpg", "https://img.example.com/thumb/d4-2.jpg"}},
}

var stock = map[string]stockEntry{
	"A1": {qty: 120, aisle: "4", bin: "B-17", restock: "2026-12-01",
		reserved: 14, incoming: 200, supplier: "SUP-ROAST-NORTH", batch: "RN-2026-47-B", leadDays: 3},
	"B2": {qty: 3, aisle: "9", bin: "A-02", restock: "2026-12-10",
		reserved: 2, incoming: 25, supplier: "SUP-MILLCO", batch: "MC-GR40-1126", leadDays: 10},
	"C3": {qty: 41, aisle: "9", bin: "C-11", restock: "2026-12-03",
		reserved: 5, incoming: 60, supplier: "SUP-BARISTA-T", batch: "BT-MJ350-0912", leadDays: 7},
	"D4": {qty: 0, aisle: "2", bin: "F-05", restock: "2027-01-15",
		reserved: 0, incoming: 144, supplier: "SUP-CLEANBREW", batch: "CB-DS2-0104", leadDays: 21},
}

var recommendations = []map[string]any{
	{"sku": "C3", "name": "Milk jug, 350 ml", "price": 8.5, "reason": "bought together"},
	{"sku": "D4", "name": "Descaler", "price": 6, "reason": "you might need"},
}

var paymentMethods = []map[string]any{
	{"id": "pm_1", "type": "card", "brand": "visa", "last4": "4242", "default": true},
	{"id": "pm_2", "type": "paypal", "email": "ada@example.com", "default": false},
}
