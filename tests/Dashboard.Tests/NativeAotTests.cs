using System.Diagnostics;
using System.Net;
using System.Net.WebSockets;
using Ori.Sockets.Tests.Infrastructure;

namespace Dashboard.Tests;

/// <summary>
/// The Dashboard published with Native AOT (scripts/test.sh publishes it and sets ORI_DASHBOARD_NATIVE to the binary),
/// driven from outside through the protocol: what the JIT build does, the native one does.
/// </summary>
public sealed class NativeAotTests
{
    [Fact]
    public async Task The_native_binary_speaks_the_protocol()
    {
        var binary = Environment.GetEnvironmentVariable("ORI_DASHBOARD_NATIVE");
        if (string.IsNullOrEmpty(binary))
        {
            Assert.Skip("ORI_DASHBOARD_NATIVE is not set: scripts/test.sh publishes the native Dashboard and sets it.");
        }

        var port = TestEnvironment.FreePort();
        var start = new ProcessStartInfo(binary!, ["--urls", $"http://127.0.0.1:{port}", "--Dashboard:SimulatorIntervalSeconds", "0.2", "--Logging:LogLevel:Default", "Warning"])
        {
            RedirectStandardOutput = true,
            WorkingDirectory = Path.GetDirectoryName(binary)!,
        };
        using var process = Process.Start(start)!;
        process.OutputDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        try
        {
            await DashboardProcess.WaitReadyAsync(port);
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}") };
            Assert.Equal(HttpStatusCode.OK, (await http.GetAsync("/health", TestContext.Current.CancellationToken)).StatusCode);
            Assert.Contains("\"asyncapi\"", await http.GetStringAsync("/_ori/asyncapi.json", TestContext.Current.CancellationToken), StringComparison.Ordinal);

            // A refused guard closes with 1008.
            await using (var refused = await TestClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws?token=nobody")))
            {
                Assert.Equal(WebSocketCloseStatus.PolicyViolation, await refused.WaitForCloseAsync());
            }

            await using var alice = await TestClient.ConnectAsync(new Uri($"ws://127.0.0.1:{port}/ws?token=alice-token"));
            await alice.ReadyAsync();
            await alice.SendAsync("2");
            Assert.Equal("3", await alice.ReceiveAsync());

            // The generated reader, validator and dispatch table, compiled ahead of time.
            var invalid = await alice.AskAsync("presence.update", new { status = "sleeping" }, "v");
            Assert.Equal("validation_failed", invalid.GetProperty("error").GetString());
            Assert.Equal("$.data.status", invalid.GetProperty("details")[0].GetProperty("path").GetString());
            var updated = await alice.AskAsync("presence.update", new { status = "away" }, "p");
            Assert.True(updated.GetProperty("data").GetProperty("updated").GetBoolean());
            Assert.Equal("unknown_type", (await alice.AskAsync("no.such.route", new { }, "u")).GetProperty("error").GetString());
            await alice.SendAsync("{not json");
            Assert.Equal("bad_request", (await alice.NextAsync(m => m.TryGetProperty("error", out _))).GetProperty("error").GetString());

            // Pushes: the simulator's monitor changes reach a subscribed project.
            var subscribed = await alice.AskAsync("subscribe.project", new { projectId = "web" }, "s");
            Assert.True(subscribed.GetProperty("data").GetProperty("subscribed").GetBoolean());
            var change = await alice.NextPushAsync("monitor.status_changed");
            Assert.Contains(change.GetProperty("data").GetProperty("monitorId").GetString(), new[] { "homepage", "checkout", "login" });
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        }
    }
}
