using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Dashboard.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Ori.Sockets.Tests.Infrastructure;

namespace Dashboard.Tests;

/// <summary>The Dashboard sample on a free loopback port.</summary>
internal sealed class DashboardServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DashboardServer(WebApplication app, Uri http)
    {
        _app = app;
        HttpUri = http;
        Http = new HttpClient { BaseAddress = http };
    }

    public Uri HttpUri { get; }

    public HttpClient Http { get; }

    public static async Task<DashboardServer> StartAsync(double simulatorSeconds = 0, string? redis = null, string? prefix = null, int port = 0, TimeProvider? time = null, string[]? more = null)
    {
        string[] args = ["--urls", $"http://127.0.0.1:{port}", "--Dashboard:SimulatorIntervalSeconds", simulatorSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), "--Logging:LogLevel:Default", "Warning"];
        if (redis is not null)
        {
            args = [.. args, "--ConnectionStrings:Redis", redis, "--Ori:Sockets:Redis:ChannelPrefix", prefix ?? "dashboard"];
        }

        args = [.. args, .. more ?? []];

        var app = DashboardApp.Build(args, builder =>
        {
            if (time is not null)
            {
                builder.Services.AddSingleton(time);
            }
        });
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new DashboardServer(app, new Uri(address));
    }

    /// <summary>Whether the host has begun to stop (a background service that failed stops it by default).</summary>
    public bool IsStopping => _app.Services.GetRequiredService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>().ApplicationStopping.IsCancellationRequested;

    public async Task<TestClient> ConnectAsync(string token)
    {
        var client = await TestClient.ConnectAsync(new Uri($"ws://{HttpUri.Authority}/ws?token={token}"));
        await client.ReadyAsync();
        return client;
    }

    public Task<HttpResponseMessage> PostIncidentAsync(string? token, string json) => PostAsync("/api/incidents", token, json);

    /// <summary><c>GET /api/presence</c> with a token: the users online, as (userId, status, sockets).</summary>
    public async Task<(HttpStatusCode Status, List<(string UserId, string Status, int Sockets)> Users)> PresenceAsync(string? token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/presence");
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        using var response = await Http.SendAsync(request);
        if (!response.IsSuccessStatusCode)
        {
            return (response.StatusCode, []);
        }

        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        return (response.StatusCode, [.. body.RootElement.GetProperty("users").EnumerateArray().Select(u => (u.GetProperty("userId").GetString()!, u.GetProperty("status").GetString()!, u.GetProperty("sockets").GetInt32()))]);
    }

    public Task<HttpResponseMessage> PostAsync(string path, string? token, string json)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return Http.SendAsync(request);
    }

    public async Task<JsonElement> StatsAsync(string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/stats");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        using var response = await Http.SendAsync(request);
        response.EnsureSuccessStatusCode();
        return JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement.Clone();
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}

/// <summary>Reading what matters among the pushes a dashboard socket receives.</summary>
internal static class DashboardClientExtensions
{
    /// <summary>Skips messages until one matches.</summary>
    public static async Task<JsonElement> NextAsync(this TestClient client, Func<JsonElement, bool> match)
    {
        var deadline = DateTime.UtcNow + TestClient.DefaultTimeout;
        while (true)
        {
            var message = await client.ReceiveJsonAsync(Remaining(deadline));
            if (match(message))
            {
                return message;
            }
        }
    }

    public static Task<JsonElement> NextPushAsync(this TestClient client, string name, Func<JsonElement, bool>? data = null) =>
        client.NextAsync(m => m.TryGetProperty("name", out var n) && n.GetString() == name && (data is null || data(m.GetProperty("data"))));

    /// <summary>Sends a request and returns its reply, skipping pushes.</summary>
    public static async Task<JsonElement> AskAsync(this TestClient client, string type, object data, string correlationId)
    {
        await client.SendJsonAsync(new { type, data, correlationId });
        return await client.NextAsync(m => m.TryGetProperty("correlationId", out var c) && c.GetString() == correlationId);
    }

    /// <summary>Asserts that no push of this name arrives within the window (other messages are skipped).</summary>
    public static async Task AssertNoPushAsync(this TestClient client, string name, TimeSpan window, Func<JsonElement, bool>? data = null)
    {
        var deadline = DateTime.UtcNow + window;
        while (DateTime.UtcNow < deadline)
        {
            try
            {
                var message = await client.ReceiveJsonAsync(Remaining(deadline));
                Assert.False(
                    message.TryGetProperty("name", out var n) && n.GetString() == name && (data is null || data(message.GetProperty("data"))),
                    $"unexpected {name}: {message}");
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private static TimeSpan Remaining(DateTime deadline) => TimeSpan.FromMilliseconds(Math.Max(1, (deadline - DateTime.UtcNow).TotalMilliseconds));
}
