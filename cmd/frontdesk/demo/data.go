package demo

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
}

type stockEntry struct {
	qty        int
	aisle, bin string
	restock    string
}

var users = map[string]User{
	"u1": {ID: "u1", Name: "Ada Lovelace", Email: "ada@example.com", Tier: "gold", Locale: "en-GB", Currency: "EUR",
		Address: Address{Line1: "12 Analytical Row", City: "London", Zip: "01234", Country: "GB"},
		Flags:   []string{"beta_checkout", "saved_cards"}, Since: "2019-03-14"},
	"u2": {ID: "u2", Name: "Grace Hopper", Email: "grace@example.com", Tier: "silver", Locale: "en-US", Currency: "USD",
		Address: Address{Line1: "1 Compiler Way", City: "Arlington", Zip: "22201", Country: "US"},
		Flags:   []string{}, Since: "2021-07-01"},
}

var coupon = "WELCOME10"

var carts = map[string]Cart{
	"c1": {ID: "c1", UserID: "u1", Currency: "EUR", Subtotal: 146.5, Shipping: 4.9, Discount: 10, Total: 141.4, Coupon: &coupon,
		Updated: "2026-11-27T07:55:12Z",
		Items: []CartItem{
			{SKU: "A1", Name: "Espresso beans, 1 kg", Qty: 2, UnitPrice: 24.5, LineTotal: 49, Image: "https://img.example.com/a1.jpg"},
			{SKU: "B2", Name: "Burr grinder", Qty: 1, UnitPrice: 89, LineTotal: 89, Image: "https://img.example.com/b2.jpg"},
			{SKU: "C3", Name: "Milk jug, 350 ml", Qty: 1, UnitPrice: 8.5, LineTotal: 8.5, Image: "https://img.example.com/c3.jpg", Gift: true},
			{SKU: "D4", Name: "Descaler (sold out)", Qty: 0, UnitPrice: 6, LineTotal: 0, Image: "https://img.example.com/d4.jpg"},
		}},
	"c2": {ID: "c2", UserID: "u2", Currency: "USD", Subtotal: 0, Total: 0, Updated: "2026-11-26T18:00:00Z", Items: []CartItem{}},
}

var products = map[string]Product{
	"A1": {SKU: "A1", Name: "Espresso beans, 1 kg", Brand: "Roastery North", Price: 24.5, Rating: 4.7, Reviews: 1284,
		Description: "A chocolate-forward blend of Brazilian and Ethiopian beans, roasted medium-dark for espresso.",
		Images:      []string{"https://img.example.com/a1.jpg", "https://img.example.com/a1-back.jpg"},
		Attributes:  map[string]string{"origin": "Brazil, Ethiopia", "roast": "medium-dark", "weight": "1 kg"},
		Categories:  []string{"coffee", "beans"}},
	"B2": {SKU: "B2", Name: "Burr grinder", Brand: "Mill & Co", Price: 89, Rating: 4.4, Reviews: 312,
		Description: "Conical steel burrs with 40 settings from espresso to French press.",
		Images:      []string{"https://img.example.com/b2.jpg"},
		Attributes:  map[string]string{"burr": "conical steel", "settings": "40", "power": "150 W"},
		Categories:  []string{"equipment", "grinders"}},
	"C3": {SKU: "C3", Name: "Milk jug, 350 ml", Brand: "Barista Tools", Price: 8.5, Rating: 4.8, Reviews: 97,
		Description: "Stainless steel pitcher with a sharp spout for latte art.",
		Images:      []string{"https://img.example.com/c3.jpg"},
		Attributes:  map[string]string{"material": "stainless steel", "volume": "350 ml"},
		Categories:  []string{"equipment", "milk"}},
	"D4": {SKU: "D4", Name: "Descaler", Brand: "CleanBrew", Price: 6, Rating: 4.1, Reviews: 45,
		Description: "Citric-acid descaler for espresso machines, two doses.",
		Images:      []string{"https://img.example.com/d4.jpg"},
		Attributes:  map[string]string{"doses": "2"},
		Categories:  []string{"care"}},
}

var stock = map[string]stockEntry{
	"A1": {qty: 120, aisle: "4", bin: "B-17", restock: "2026-12-01"},
	"B2": {qty: 3, aisle: "9", bin: "A-02", restock: "2026-12-10"},
	"C3": {qty: 41, aisle: "9", bin: "C-11", restock: "2026-12-03"},
	"D4": {qty: 0, aisle: "2", bin: "F-05", restock: "2027-01-15"},
}

var recommendations = []map[string]any{
	{"sku": "C3", "name": "Milk jug, 350 ml", "price": 8.5, "reason": "bought together"},
	{"sku": "D4", "name": "Descaler", "price": 6, "reason": "you might need"},
}

var paymentMethods = []map[string]any{
	{"id": "pm_1", "type": "card", "brand": "visa", "last4": "4242", "default": true},
	{"id": "pm_2", "type": "paypal", "email": "ada@example.com", "default": false},
}
