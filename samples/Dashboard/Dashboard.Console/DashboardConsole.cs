using Dashboard.Contracts;
using Ori.Sockets.Client;

namespace Dashboard.Console;

/// <summary>
/// Watches a project of the dashboard from a terminal: the shared contracts give typed requests
/// (<see cref="PresenceUpdate"/> returns a <see cref="PresenceAck"/>) and typed pushes, with no JSON by hand.
/// </summary>
public static class DashboardConsole
{
    /// <summary>Connects, subscribes to <paramref name="project"/>, prints what happens until canceled.</summary>
    /// <param name="server">The server, such as <c>http://127.0.0.1:5080</c>.</param>
    /// <param name="token">A demo token (alice-token, bob-token, eve-token).</param>
    /// <param name="project">The project to watch.</param>
    /// <param name="output">Where lines go.</param>
    /// <param name="cancellationToken">Stops watching.</param>
    /// <returns>Completes when canceled.</returns>
    public static async Task RunAsync(Uri server, string token, string project, TextWriter output, CancellationToken cancellationToken)
    {
        var ws = new UriBuilder(server) { Scheme = server.Scheme == "https" ? "wss" : "ws", Path = "/ws", Query = $"token={Uri.EscapeDataString(token)}" }.Uri;
        await using var client = new OriSocketClient(ws);
        client.StateChanged += change => output.WriteLine($"[connection] {change.Current}{(change.CloseStatus is { } code ? $" ({code})" : string.Empty)}");
        client.Error += error => output.WriteLine($"[error] {error.Message}");
        using var presence = client.On<PresenceChanged>(p => output.WriteLine($"[presence] {p.UserId} is {p.Status}"));
        using var incidents = client.On<IncidentCreated>(i => output.WriteLine($"[incident] {i.Severity}: {i.Title} ({i.MonitorId})"));
        using var monitors = client.On<MonitorStatusChanged>(m => output.WriteLine($"[monitor] {m.MonitorId}: {m.PreviousStatus} -> {m.CurrentStatus}"));

        client.Recovery += r => output.WriteLine($"[recovery] {r.Topic}: {(r.Recovered ? "caught up" : "missed updates")}");

        // The project's topics keep a history: after a reconnect the subscription is made again from the last position
        // seen on each, and the server sends what was missed first.
        ProjectSubscribed? subscribed = null;
        TopicPosition? Position(string? topic) => topic is not null && client.GetPosition(topic) is { } at ? new TopicPosition(at.Epoch, at.Offset) : null;
        async Task WatchAsync()
        {
            var again = subscribed is not null;
            subscribed = await client.RequestAsync(new SubscribeProject(project, Position(subscribed?.Monitors.Topic), Position(subscribed?.Incidents.Topic)), cancellationToken);
            if (again)
            {
                output.WriteLine($"[recovery] monitors {(subscribed.Monitors.Recovered ? "caught up" : "missed updates")}, incidents {(subscribed.Incidents.Recovered ? "caught up" : "missed updates")}");
            }
        }

        client.StateChanged += change =>
        {
            if (change is { Previous: OriSocketClientState.Reconnecting, Current: OriSocketClientState.Connected })
            {
                _ = Task.Run(async () =>
                {
                    try
                    {
                        await WatchAsync();
                    }
                    catch (Exception ex) when (ex is OriSocketErrorException or OriSocketConnectionException or TimeoutException or OperationCanceledException)
                    {
                        output.WriteLine($"[error] could not watch {project} again: {ex.Message}");
                    }
                });
            }
        };

        await client.ConnectAsync(cancellationToken);
        var ack = await client.RequestAsync(new PresenceUpdate("active"), cancellationToken);
        await WatchAsync();
        output.WriteLine($"[ready] presence updated: {ack.Updated}; watching project {subscribed!.ProjectId}");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
