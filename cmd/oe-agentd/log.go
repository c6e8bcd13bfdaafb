package main

import (
	"fmt"
	"io"
	"os"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
)

// newLogger builds the daemon's logger. The console format has no
// timestamps when stderr goes to journald (JOURNAL_STREAM is set), which
// adds its own; JSON always has them. The level is raised or lowered later
// by the agent from loglevel= through the returned logger's AtomicLevel.
func newLogger(format string, w io.Writer) (*zap.Logger, zap.AtomicLevel, error) {
	level := zap.NewAtomicLevelAt(zap.InfoLevel)
	encCfg := zap.NewProductionEncoderConfig()
	encCfg.EncodeTime = zapcore.ISO8601TimeEncoder
	var enc zapcore.Encoder
	switch format {
	case "", "console":
		encCfg.EncodeLevel = zapcore.LowercaseLevelEncoder
		encCfg.ConsoleSeparator = " "
		if os.Getenv("JOURNAL_STREAM") != "" {
			encCfg.TimeKey = ""
		}
		enc = zapcore.NewConsoleEncoder(encCfg)
	case "json":
		enc = zapcore.NewJSONEncoder(encCfg)
	default:
		return nil, level, fmt.Errorf("unknown log format %q (want console or json)", format)
	}
	core := zapcore.NewCore(enc, zapcore.AddSync(w), level)
	return zap.New(core), level, nil
}
