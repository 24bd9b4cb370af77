using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Ori.Sockets.Tests.Infrastructure;

/// <summary>Keeps every log line of a test server, so tests can check what is (and is not) logged.</summary>
internal sealed class LogSink : ILoggerProvider
{
    public ConcurrentQueue<(LogLevel Level, int EventId, string Message, Exception? Exception)> Entries { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(LogSink sink) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            sink.Entries.Enqueue((logLevel, eventId.Id, formatter(state, exception), exception));
    }
}
