package sqlfuncs

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/dolthub/go-mysql-server/sql"
	"github.com/dolthub/vitess/go/mysql"

	"github.com/adapterdb/adapterdb/catalog"
	"github.com/adapterdb/adapterdb/engine"
	"github.com/adapterdb/adapterdb/engine/registry"
)

// Errors reach clients as MySQL errors: a *mysql.SQLError passes through
// go-mysql-server unchanged (anything else becomes 1105 ER_UNKNOWN_ERROR), so
// every error this package makes on purpose is one, with the MySQL code whose
// meaning is closest. docs/sql.md lists them.
const (
	codeFileNotFound     = 29   // ER_FILE_NOT_FOUND
	codeParse            = 1064 // ER_PARSE_ERROR
	codeFileExists       = 1086 // ER_FILE_EXISTS_ERROR
	codeWrongName        = 1103 // ER_WRONG_TABLE_NAME
	codeUnknown          = 1105 // ER_UNKNOWN_ERROR
	codeUnknownOption    = 1193 // ER_UNKNOWN_SYSTEM_VARIABLE
	codeWrongArguments   = 1210 // ER_WRONG_ARGUMENTS
	codeWrongOptionValue = 1231 // ER_WRONG_VALUE_FOR_VAR
	codeOperandColumns   = 1241 // ER_OPERAND_COLUMNS
	codeOptionPrevents   = 1290 // ER_OPTION_PREVENTS_STATEMENT
	codeAlreadyExists    = 1304 // ER_SP_ALREADY_EXISTS ("%s %s already exists")
	codeDoesNotExist     = 1305 // ER_SP_DOES_NOT_EXIST ("%s %s does not exist")
	codeInterrupted      = 1317 // ER_QUERY_INTERRUPTED
	codeWrongStringValue = 1366 // ER_TRUNCATED_WRONG_VALUE_FOR_FIELD
	codeDataTooLong      = 1406 // ER_DATA_TOO_LONG
	codeWrongParamCount  = 1582 // ER_WRONG_PARAMCOUNT_TO_NATIVE_FCT
	stateGeneral         = mysql.SSUnknownSQLState
	stateSyntax          = mysql.SSClientError // 42000: syntax error or access rule violation
	stateCardinality     = "21000"
	stateDataTooLong     = mysql.SSDataTooLong
	stateInterrupted     = mysql.SSQueryInterrupted
)

func sqlErr(code int, state, format string, a ...any) *mysql.SQLError {
	// NewSQLError formats its message; the message is already formatted here.
	return mysql.NewSQLError(code, state, "%s", fmt.Sprintf(format, a...))
}

func syntaxError(msg string) *mysql.SQLError {
	return sqlErr(codeParse, stateSyntax, "You have an error in your SQL syntax: %s", msg)
}

// ErrInterrupted is what a killed or cancelled query returns (KILL QUERY,
// client gone, server shutting down).
func ErrInterrupted() *mysql.SQLError {
	return sqlErr(codeInterrupted, stateInterrupted, "Query execution was interrupted")
}

func errUnknownAdapter(name string) *mysql.SQLError {
	return sqlErr(codeDoesNotExist, stateSyntax, "ADAPTER %s does not exist", name)
}

func errAdapterExists(name string) *mysql.SQLError {
	return sqlErr(codeAlreadyExists, stateSyntax, "ADAPTER %s already exists", name)
}

func errArgCount(fn string) *mysql.SQLError {
	return sqlErr(codeWrongParamCount, stateSyntax, "Incorrect parameter count in the call to native function '%s'", fn)
}

// errTextCount refuses a call with a number of texts its adapter does not
// take (a pair adapter with one text, a single-text adapter with two): 1582
// as for any wrong argument count, naming the adapter and the form to use.
func errTextCount(fn, adapterName string, want int) *mysql.SQLError {
	form := fmt.Sprintf("%s('%s', text)", fn, adapterName)
	kind := "a single-text adapter"
	if want == 2 {
		form = fmt.Sprintf("%s('%s', text, text2)", fn, adapterName)
		kind = "a text-pair adapter"
	}
	return sqlErr(codeWrongParamCount, stateSyntax, "Incorrect parameter count in the call to native function '%s': adapter %s is %s (%s)", fn, adapterName, kind, form)
}

func errArguments(fn, format string, a ...any) *mysql.SQLError {
	return sqlErr(codeWrongArguments, stateGeneral, "Incorrect arguments to %s: %s", fn, fmt.Sprintf(format, a...))
}

// errText reports a text the featurizer refuses, naming the function and row.
func errText(fn string, row int, text string, err error) *mysql.SQLError {
	if !utf8.ValidString(text) {
		return sqlErr(codeWrongStringValue, stateGeneral, "Incorrect string value for %s text at row %d: not valid UTF-8", fn, row)
	}
	return sqlErr(codeDataTooLong, stateDataTooLong, "Data too long for %s text at row %d: %s", fn, row,
		strings.TrimPrefix(err.Error(), engine.ErrText.Error()+": "))
}

// isCancel reports a cancelled or timed-out context.
func isCancel(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}

// toSQLError gives registry and engine errors their MySQL codes. what names
// the statement or function for context ("CREATE ADAPTER x").
func toSQLError(ctx context.Context, what string, err error) error {
	if err == nil {
		return nil
	}
	var se *mysql.SQLError
	if errors.As(err, &se) {
		return se
	}
	switch {
	case isCancel(err) || ctx != nil && ctx.Err() != nil:
		return ErrInterrupted()
	case errors.Is(err, catalog.ErrNotFound):
		return errUnknownAdapter(strings.TrimPrefix(err.Error(), catalog.ErrNotFound.Error()+": "))
	case errors.Is(err, catalog.ErrExists):
		return errAdapterExists(strings.TrimPrefix(err.Error(), catalog.ErrExists.Error()+": "))
	case errors.Is(err, registry.ErrWrongBase):
		return sqlErr(codeWrongArguments, stateGeneral, "%s: %v", what, err)
	case errors.Is(err, catalog.ErrLocked):
		return sqlErr(mysql.ERLockWaitTimeout, stateGeneral, "Lock wait timeout exceeded; try restarting transaction (%s: %v)", what, catalog.ErrLocked)
	}
	return sqlErr(codeUnknown, stateGeneral, "%s: %v", what, err)
}

// CastError is sql.CastSQLError plus the mapping of a cancelled query to
// 1317: go-mysql-server's own iterators return a bare context error when a
// query is killed.
func CastError(err error) *mysql.SQLError {
	if err == nil {
		return nil
	}
	if isCancel(err) {
		return ErrInterrupted()
	}
	return sql.CastSQLError(err)
}
