using System.Net;
using Microsoft.Playwright;
using Ori.Sockets.Tests.Infrastructure;

namespace Dashboard.Tests;

/// <summary>
/// The Dashboard page in real headless Chromium (Debian's chromium, driven by Playwright): live presence,
/// incidents for the right account only, and a server restart the page rides out without a reload.
/// Screenshots are saved under TestResults/screenshots.
/// </summary>
public sealed class BrowserTests : IAsyncLifetime
{
    private const string Chromium = "/usr/bin/chromium";
    private IPlaywright _playwright = null!;
    private IBrowser _browser = null!;

    public async ValueTask InitializeAsync()
    {
        Assert.True(File.Exists(Chromium), $"{Chromium} is missing: run the suite with scripts/test.sh (as root it installs Debian's chromium).");
        _playwright = await Playwright.CreateAsync();
        _browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
    }

    public async ValueTask DisposeAsync()
    {
        await _browser.DisposeAsync();
        _playwright.Dispose();
    }

    private async Task<IPage> OpenAsync(DashboardServer server, string token)
    {
        var context = await _browser.NewContextAsync();
        var page = await context.NewPageAsync();
        await page.GotoAsync(new Uri(server.HttpUri, $"/?token={token}").ToString());
        await Assertions.Expect(page.Locator("#connection")).ToHaveAttributeAsync("data-state", "connected");
        await Assertions.Expect(page.Locator("#watching")).ToHaveAttributeAsync("data-project", "web");
        return page;
    }

    private static async Task ScreenshotAsync(IPage page, string name)
    {
        var folder = Path.Combine(TestEnvironment.RepositoryRoot, "TestResults", "screenshots");
        Directory.CreateDirectory(folder);
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(folder, name + ".png"), FullPage = true });
    }

    [Fact]
    public async Task Two_users_of_one_account_see_each_others_presence_change_live()
    {
        await using var server = await DashboardServer.StartAsync();
        var alice = await OpenAsync(server, "alice-token");
        var bob = await OpenAsync(server, "bob-token");

        await Assertions.Expect(bob.Locator("li[data-user=alice]")).ToHaveAttributeAsync("data-status", "active");
        await Assertions.Expect(alice.Locator("li[data-user=bob]")).ToHaveAttributeAsync("data-status", "active");

        await alice.SelectOptionAsync("#my-status", "idle");
        await Assertions.Expect(bob.Locator("li[data-user=alice]")).ToHaveAttributeAsync("data-status", "idle");
        await ScreenshotAsync(bob, "presence-bob-sees-alice-idle");
    }

    [Fact]
    public async Task An_incident_appears_for_a_subscriber_of_its_project_and_not_for_another_account()
    {
        await using var server = await DashboardServer.StartAsync();
        var bob = await OpenAsync(server, "bob-token");
        var eve = await OpenAsync(server, "eve-token");

        using var created = await server.PostIncidentAsync("alice-token", """{"projectId":"web","title":"Checkout down","severity":"critical","monitorId":"checkout"}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);

        await Assertions.Expect(bob.Locator("#incidents li")).ToContainTextAsync("Checkout down");
        await Task.Delay(500, TestContext.Current.CancellationToken);
        Assert.Equal(0, await eve.Locator("#incidents li").CountAsync());
        await ScreenshotAsync(bob, "incident-bob");
        await ScreenshotAsync(eve, "incident-eve-sees-nothing");
    }

    [Fact]
    public async Task After_a_server_restart_the_page_shows_it_is_reconnecting_then_receives_again_without_a_reload()
    {
        var port = TestEnvironment.FreePort();
        var server = await DashboardServer.StartAsync(port: port);
        var bob = await OpenAsync(server, "bob-token");
        await bob.EvaluateAsync("window.__notReloaded = true");

        await server.DisposeAsync();
        await Assertions.Expect(bob.Locator("#connection")).ToHaveAttributeAsync("data-state", "reconnecting");
        await ScreenshotAsync(bob, "restart-reconnecting");

        await using var restarted = await DashboardServer.StartAsync(port: port);
        await Assertions.Expect(bob.Locator("#connection")).ToHaveAttributeAsync("data-state", "connected", new() { Timeout = 30_000 });

        // The page subscribed again by itself; an incident created now reaches it.
        await Eventually.TrueAsync(async () =>
        {
            using var stats = await restarted.Http.SendAsync(new HttpRequestMessage(HttpMethod.Get, "/api/stats") { Headers = { { "Authorization", "Bearer bob-token" } } });
            return (await stats.Content.ReadAsStringAsync()).Contains("incidents:acme:web", StringComparison.Ordinal);
        });
        using var created = await restarted.PostIncidentAsync("alice-token", """{"projectId":"web","title":"After restart","severity":"low","monitorId":"homepage"}""");
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        await Assertions.Expect(bob.Locator("#incidents li")).ToContainTextAsync("After restart");
        Assert.True(await bob.EvaluateAsync<bool>("window.__notReloaded === true"));
        await ScreenshotAsync(bob, "restart-received-again");
    }

    [Fact]
    public async Task After_a_network_drop_the_page_rejoins_its_project_and_shows_what_it_missed_once_without_a_reload()
    {
        await using var server = await DashboardServer.StartAsync();
        var bob = await OpenAsync(server, "bob-token");
        await bob.EvaluateAsync("window.__notReloaded = true");
        async Task PostAsync(string title)
        {
            using var created = await server.PostIncidentAsync("alice-token", $$"""{"projectId":"web","title":"{{title}}","severity":"low","monitorId":"homepage"}""");
            Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        }

        await PostAsync("Before the drop");
        await Assertions.Expect(bob.Locator("#incidents li")).ToHaveCountAsync(1);

        await bob.Context.SetOfflineAsync(true);
        await Assertions.Expect(bob.Locator("#connection")).ToHaveAttributeAsync("data-state", "reconnecting");
        await PostAsync("Missed one");
        await PostAsync("Missed two");
        await ScreenshotAsync(bob, "drop-offline");

        await bob.Context.SetOfflineAsync(false);
        await Assertions.Expect(bob.Locator("#connection")).ToHaveAttributeAsync("data-state", "connected", new() { Timeout = 30_000 });
        await Assertions.Expect(bob.Locator("#recovery")).ToHaveAttributeAsync("data-recovered", "true");
        await Assertions.Expect(bob.Locator("#incidents li")).ToHaveCountAsync(3);
        var titles = await bob.Locator("#incidents li").AllInnerTextsAsync();
        Assert.Equal(["Missed two", "Missed one", "Before the drop"], titles.Select(t => t[..t.IndexOf(" (", StringComparison.Ordinal)]));

        // And it goes on: nothing twice, the next one once.
        await PostAsync("After the drop");
        await Assertions.Expect(bob.Locator("#incidents li")).ToHaveCountAsync(4);
        Assert.True(await bob.EvaluateAsync<bool>("window.__notReloaded === true"));
        await ScreenshotAsync(bob, "drop-recovered");
    }
}
