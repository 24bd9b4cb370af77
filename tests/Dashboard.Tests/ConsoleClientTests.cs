using System.Net;
using Dashboard.Console;
using Ori.Sockets.Tests.Infrastructure;

namespace Dashboard.Tests;

/// <summary>The console client shares the contracts with the server: typed requests and pushes, no JSON by hand.</summary>
public sealed class ConsoleClientTests
{
    [Fact]
    public async Task The_console_client_watches_a_project_and_sees_presence_and_incidents()
    {
        await using var server = await DashboardServer.StartAsync();
        var output = new SynchronizedWriter();
        using var stop = new CancellationTokenSource();
        var run = DashboardConsole.RunAsync(server.HttpUri, "bob-token", "web", output, stop.Token);
        await Eventually.TrueAsync(() => output.Text.Contains("[ready] presence updated: True; watching project web", StringComparison.Ordinal));

        await using var alice = await server.ConnectAsync("alice-token");
        await Eventually.TrueAsync(() => output.Text.Contains("[presence] alice is active", StringComparison.Ordinal));

        using var created = await server.PostIncidentAsync("alice-token", """{"projectId":"web","title":"Login fails","severity":"high","monitorId":"login"}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        await Eventually.TrueAsync(() => output.Text.Contains("[incident] high: Login fails (login)", StringComparison.Ordinal));

        await stop.CancelAsync();
        await run;
    }

    private sealed class SynchronizedWriter : StringWriter
    {
        private readonly Lock _sync = new();

        public string Text
        {
            get
            {
                lock (_sync)
                {
                    return ToString();
                }
            }
        }

        public override void WriteLine(string? value)
        {
            lock (_sync)
            {
                base.WriteLine(value);
            }
        }
    }
}
