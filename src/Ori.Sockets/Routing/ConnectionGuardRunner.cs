using Microsoft.Extensions.Logging;
using Ori.Sockets.Telemetry;

namespace Ori.Sockets.Routing;

/// <summary>What a connection's guards decided.</summary>
internal enum GuardVerdict
{
    /// <summary>Every guard allowed the connection.</summary>
    Passed,

    /// <summary>A guard refused it (closed with 1008).</summary>
    Refused,

    /// <summary>A guard threw or the guards overran their time limit (closed with 1011).</summary>
    Failed,
}

/// <summary>Runs an endpoint's connection guards for a connection, in order, within one time limit, before any of its frames is handled.</summary>
internal static class ConnectionGuardRunner
{
    /// <summary>Runs the guards; the outcome carries the credentials' expiry a guard set, if any.</summary>
    public static async Task<(GuardVerdict Verdict, DateTimeOffset? CredentialsExpireAt)> RunAsync(ISocketEndpoint endpoint, SocketContext context, TimeSpan timeout, TimeProvider time, ILogger logger)
    {
        // The endpoint's guards, created in the connection's scope, in the order it declares them.
        var guards = endpoint.CreateConnectionGuards(context.Services);
        if (guards.Length == 0)
        {
            return (GuardVerdict.Passed, null);
        }

        using var deadline = new CancellationTokenSource(timeout, time);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, context.Aborted);
        var guardContext = new ConnectionGuardContext(context, linked.Token);
        try
        {
            var verdict = await RunAsync(guards, guardContext, context, linked, logger).ConfigureAwait(false);
            return (verdict, guardContext.CredentialsExpireAt);
        }
        finally
        {
            // A guard that never answers holds its context: only the context, not the connection.
            guardContext.Detach();
        }
    }

    private static async Task<GuardVerdict> RunAsync(IConnectionGuard[] guards, ConnectionGuardContext guardContext, SocketContext context, CancellationTokenSource linked, ILogger logger)
    {
        foreach (var guard in guards)
        {
            try
            {
                var allowed = await guard.CanConnectAsync(guardContext).AsTask().WaitAsync(linked.Token).ConfigureAwait(false);
                if (!allowed)
                {
                    SocketLog.GuardRefused(logger, context.SocketId, guard.GetType().Name);
                    return GuardVerdict.Refused;
                }
            }
            catch (OperationCanceledException) when (linked.IsCancellationRequested)
            {
                SocketLog.GuardTimedOut(logger, context.SocketId);
                return GuardVerdict.Failed;
            }
#pragma warning disable CA1031 // A guard that throws fails the connection with 1011; the exception is logged, never sent.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                SocketLog.GuardFailed(logger, context.SocketId, ex);
                return GuardVerdict.Failed;
            }
        }

        return GuardVerdict.Passed;
    }
}
