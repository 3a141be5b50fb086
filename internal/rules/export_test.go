package rules

// FormatDate is formatDate, for the external tests.
var FormatDate = formatDate

// Human is human, for the external tests.
var Human = human

// AfterTests are run by TestMain once every test has run: the external
// tests' clean-ups of shared fixtures.
var AfterTests []func()
