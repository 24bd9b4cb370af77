using Dashboard.Contracts;
using Ori.Sockets;

namespace Dashboard.Server;

/// <summary>The demo monitors: account, project and monitor ids.</summary>
public static class DemoMonitors
{
    /// <summary>Every demo monitor.</summary>
    public static IReadOnlyList<(string AccountId, string ProjectId, string MonitorId)> All { get; } =
    [
        ("acme", "web", "homepage"), ("acme", "web", "checkout"), ("acme", "web", "login"),
        ("acme", "api", "api-health"), ("acme", "api", "payments"),
        ("globex", "web", "storefront"), ("globex", "web", "search"),
    ];
}

/// <summary>
/// Pushes <c>monitor.status_changed</c> for the demo monitors every
/// <c>Dashboard:SimulatorIntervalSeconds</c> (default 3; 0 turns it off): one monitor of each project changes.
/// </summary>
public sealed class MonitorSimulator(ISocketEmitter emitter, IConfiguration configuration, TimeProvider time, ILogger<MonitorSimulator> logger) : BackgroundService
{
    private static readonly string[] s_statuses = ["up", "up", "up", "degraded", "down"];
    private readonly Dictionary<string, string> _status = DemoMonitors.All.ToDictionary(m => m.MonitorId, _ => "up");
    private bool _failing;

    /// <inheritdoc />
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var seconds = configuration.GetValue("Dashboard:SimulatorIntervalSeconds", 3.0);
        if (seconds <= 0)
        {
            logger.LogInformation("Monitor simulator is off.");
            return;
        }

        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(seconds), time);
        while (await timer.WaitForNextTickAsync(stoppingToken))
        {
            foreach (var project in DemoMonitors.All.GroupBy(m => (m.AccountId, m.ProjectId)))
            {
                var monitors = project.ToList();
                var monitor = monitors[Random.Shared.Next(monitors.Count)].MonitorId;
                var previous = _status[monitor];
                var current = s_statuses.Where(s => s != previous).ElementAt(Random.Shared.Next(s_statuses.Count(s => s != previous)));
                _status[monitor] = current;
                try
                {
                    await emitter.EmitAsync(
                        Topics.Monitors(project.Key.AccountId, project.Key.ProjectId),
                        new MonitorStatusChanged(monitor, previous, current, time.GetUtcNow()),
                        cancellationToken: stoppingToken);
                    _failing = false;
                }
                catch (SocketUnavailableException ex)
                {
                    // Redis blinked: this instance's sockets got the change, the others did not. A background service that
                    // let this escape would stop the host; the simulator logs the first failure of a run and carries on.
                    if (!_failing)
                    {
                        logger.LogWarning(ex, "Monitor changes are not reaching other instances; retrying on the next tick.");
                        _failing = true;
                    }
                }
            }
        }
    }
}
